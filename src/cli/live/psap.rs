//! stub
pub fn run(_a: super::PsapArgs) -> anyhow::Result<()> {
    anyhow::bail!("todo")
}
