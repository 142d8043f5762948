fn main() -> std::process::ExitCode {
    roster_server::cli::main()
}
