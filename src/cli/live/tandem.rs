//! stub
pub fn run(_a: super::TandemArgs) -> anyhow::Result<()> {
    anyhow::bail!("todo")
}
