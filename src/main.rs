fn main() -> std::process::ExitCode {
    e911_tandem::cli::main()
}
