//! `e911 ecrf serve`: an ECRF answering LoST `findService` over HTTP from the office's own data
//! (docs/ng911.md). With no `--datafill`: the embedded Cary, NC office and its MSAG.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::ng911::ecrf::Ecrf;
use crate::ng911::ecrf_server;

#[derive(Subcommand, Debug)]
pub enum EcrfCmd {
    /// Answer LoST findService (RFC 5222; HTTP POST to `/`, application/lost+xml) for
    /// urn:service:sos at a civic location: the MSAG range that holds the address → its ESN →
    /// the ESN's primary PSAP (E911ESN) → that PSAP's SIP URI. What cannot be mapped is a LoST
    /// notFound; every answer is HTTP 200. One line per query on standard output.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Office datafill (file or directory). Default: the embedded Cary, NC office.
    #[arg(long)]
    pub datafill: Option<PathBuf>,
    /// The MSAG whose street ranges give each address its ESN (needed with --datafill; alone, it
    /// replaces the embedded office's).
    #[arg(long)]
    pub msag: Option<PathBuf>,
    /// Where to listen for HTTP (an IP literal and a port).
    #[arg(long, default_value = "127.0.0.1:8070")]
    pub listen: SocketAddr,
    /// Each PSAP's SIP URI: `{PSAP}` is replaced by the PSAP's name from E911PSAP.
    #[arg(long, default_value = "sip:{PSAP}@127.0.0.1:5070")]
    pub psap_uri: String,
    /// This server's name in its answers (`source`).
    #[arg(long, default_value = "ecrf.e911.invalid")]
    pub source: String,
}

pub fn run(cmd: EcrfCmd) -> anyhow::Result<()> {
    match cmd {
        EcrfCmd::Serve(a) => serve(a),
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    if !(a.psap_uri.starts_with("sip:") || a.psap_uri.starts_with("sips:"))
        || !a.psap_uri.contains("{PSAP}")
    {
        return Err(super::Usage(format!(
            "--psap-uri `{}`: a sip: or sips: URI with `{{PSAP}}` where the PSAP's name goes",
            crate::text::one_line(&a.psap_uri)
        ))
        .into());
    }
    let super::office_data::OfficeData {
        office,
        msag,
        msag_name,
        ..
    } = super::office_data::load(
        a.datafill.as_deref(),
        a.msag.as_deref(),
        "the ECRF maps addresses through its ranges",
    )?;
    let uri = a.psap_uri.clone();
    let mut ecrf = Ecrf::new(&office, msag, move |psap| uri.replace("{PSAP}", psap));
    ecrf.source = a.source.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let stop = super::interrupt::flag();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| anyhow::anyhow!("--listen {}: {e}", a.listen))?;
        let at = listener.local_addr()?;
        let mut so = std::io::stdout().lock();
        let _ = writeln!(
            so,
            "ecrf: LoST findService on http://{at}/ — {} ESNs from {msag_name}",
            ecrf.routes().count()
        );
        for r in ecrf.routes() {
            let _ = writeln!(so, "  ESN {:>5} → {} {}", r.esn, r.psap, r.uri);
        }
        let _ = so.flush();
        drop(so);
        ecrf_server::serve(ecrf, listener, stop, |a| {
            let mut so = std::io::stdout().lock();
            let _ = writeln!(so, "{}", crate::text::one_line(&a.outcome));
            let _ = so.flush();
        })
        .await
        .map_err(|e| anyhow::anyhow!("ecrf: {e}"))
    })
}
