//! stub
pub fn run(_a: super::EoArgs) -> anyhow::Result<()> {
    anyhow::bail!("todo")
}
