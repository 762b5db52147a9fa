//! `e911 bench`: detection latency distributions and throughput.

use clap::Args;

#[derive(Args, Debug)]
pub struct BenchArgs {}

pub fn run(_a: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench: not yet")
}
