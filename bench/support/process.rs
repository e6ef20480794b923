//! Child processes (the sandbox and the gateway run as `postgate` children so the gateway's
//! peak RSS is its own): spawning, CPU and memory readings, a clean stop.

use crate::*;
use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed (and reaped) when dropped — also on panic.
pub(crate) struct Proc {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Res<Self> {
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({BIN}): {e}"))?;
        Ok(Self { name, child, log })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A line of `/proc/<pid>/status`, in KiB.
    pub(crate) fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(field))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// CPU time used so far, (user, system), in seconds.
    pub(crate) fn cpu_secs(&self) -> (f64, f64) {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())) else {
            return (0.0, 0.0);
        };
        // Fields after the command name: state is field 3, utime 14, stime 15.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return (0.0, 0.0);
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (
            ticks(11) as f64 / clock_ticks(),
            ticks(12) as f64 / clock_ticks(),
        )
    }

    /// Peak resident set size (VmHWM), in KiB.
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    pub(crate) fn check_alive(&mut self) -> Res<()> {
        if let Some(status) = self.child.try_wait()? {
            return fail(format!(
                "{} exited ({status}); its output:\n{}",
                self.name,
                self.log_tail()
            ));
        }
        Ok(())
    }

    /// SIGTERM, then waits up to `grace` for a clean exit (sled flushes on drop), else SIGKILL.
    pub(crate) fn terminate(&mut self, grace: Duration) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "bench: {} did not stop within {grace:?}; killing it",
            self.name
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`, usually 100).
pub(crate) fn clock_ticks() -> f64 {
    pub(crate) static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// CPU milliseconds per request of both processes over a run.
pub(crate) struct CpuMeter {
    pub(crate) gateway: (f64, f64),
    pub(crate) sandbox: (f64, f64),
}

impl CpuMeter {
    pub(crate) fn start(gw: Option<&Gateway>, sandbox: &Sandbox) -> Self {
        Self {
            gateway: gw.map_or((0.0, 0.0), |g| g.proc.cpu_secs()),
            sandbox: sandbox.proc.cpu_secs(),
        }
    }

    pub(crate) fn note(
        &self,
        gw: Option<&Gateway>,
        sandbox: &Sandbox,
        requests: usize,
        unit: &str,
    ) -> String {
        let per = |now: f64, then: f64| (now - then) * 1000.0 / requests.max(1) as f64;
        let (u, s) = sandbox.proc.cpu_secs();
        let sb = per(u + s, self.sandbox.0 + self.sandbox.1);
        match gw {
            Some(g) => {
                let (u, s) = g.proc.cpu_secs();
                format!(
                    "CPU per {unit}: gateway {:.2} ms ({:.2} sys), sandbox {sb:.2} ms",
                    per(u + s, self.gateway.0 + self.gateway.1),
                    per(s, self.gateway.1)
                )
            }
            None => format!("CPU per {unit}: sandbox {sb:.2} ms"),
        }
    }
}

/// Free loopback ports (all bound at once so they differ).
pub(crate) fn free_ports(n: usize) -> Res<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?)
}

/// Polls `url` until it answers 200; fails if `proc` exits or 60 s pass.
pub(crate) async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    proc: &mut Proc,
) -> Res<Duration> {
    let start = Instant::now();
    loop {
        proc.check_alive()?;
        if let Ok(r) = client.get(url).send().await {
            if r.status() == reqwest::StatusCode::OK {
                return Ok(start.elapsed());
            }
        }
        if start.elapsed() > Duration::from_secs(60) {
            return fail(format!(
                "{} not ready at {url} after 60 s; its output:\n{}",
                proc.name,
                proc.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
