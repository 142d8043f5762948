/// mimalloc rather than glibc's malloc: under load, allocation was a fifth of
/// a request's CPU time with glibc (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    roster_server::cli::main()
}
