/// mimalloc rather than glibc's malloc: under load, allocation was a fifth of
/// a request's CPU time with glibc (see docs/benchmarks.md). Built without
/// transparent huge pages (`no_thp`): with them, its arenas were backed by
/// 2 MiB pages that stayed resident, 11–17 MiB of the server's memory at
/// start and at peak for no measured gain.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    roster_server::cli::main()
}
