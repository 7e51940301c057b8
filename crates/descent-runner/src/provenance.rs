//! Facts recorded beside every result so that anyone can rerun it: the git revision of the
//! working tree and the machine.

/// Git revision of the working tree the binary runs in (`-dirty` when tracked files changed).
pub fn git_revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(rev) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown (not a git checkout)".into(),
    }
}

/// One line about the machine: CPU model, cores, OS.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Now, in UTC to the second (RFC 3339): when a result was made.
pub fn date() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// This process's command line, each argument quoted for a shell where it needs it (shown
/// as how to rerun a result).
pub fn command_line() -> Vec<String> {
    std::env::args()
        .map(|a| shlex::try_quote(&a).map_or(a.clone(), |q| q.into_owned()))
        .collect()
}
