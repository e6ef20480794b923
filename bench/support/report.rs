//! The result table and the facts printed beside it (machine, load average, sizes).

use crate::*;
use std::path::Path;
use std::time::Duration;

#[derive(Default)]
pub(crate) struct Row {
    pub(crate) bench: String,
    pub(crate) case: String,
    pub(crate) requests: String,
    pub(crate) time: String,
    pub(crate) rate: String,
    pub(crate) p50: String,
    pub(crate) p99: String,
    pub(crate) note: String,
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

pub(crate) fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

pub(crate) fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}

pub(crate) fn load_row(bench: &str, case: String, load: &Load, note: String) -> Row {
    let mut note = note;
    if load.failed > 0 {
        if !note.is_empty() {
            note.push_str("; ");
        }
        let _ = write!(note, "{} FAILED requests", load.failed);
    }
    Row {
        bench: bench.into(),
        case,
        requests: load.count().to_string(),
        time: secs(load.elapsed),
        rate: format!("{:.0}", load.rate()),
        p50: ms(load.pct(50.0)),
        p99: ms(load.pct(99.0)),
        note,
    }
}

pub(crate) fn table(rows: &[Row]) -> String {
    let header = [
        "benchmark",
        "case",
        "requests",
        "time s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "notes",
    ];
    let cells: Vec<[&str; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.bench.as_str(),
                r.case.as_str(),
                r.requests.as_str(),
                r.time.as_str(),
                r.rate.as_str(),
                r.p50.as_str(),
                r.p99.as_str(),
                r.note.as_str(),
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[&str; 8]| {
        let mut s = String::from("|");
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            let pad = w - c.chars().count();
            // Numbers right-aligned, text left-aligned.
            if (2..=6).contains(&i) {
                let _ = write!(s, " {}{} |", " ".repeat(pad), c);
            } else {
                let _ = write!(s, " {}{} |", c, " ".repeat(pad));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&header);
    out.push('|');
    for (i, w) in width.iter().enumerate() {
        let dashes = "-".repeat(*w);
        if (2..=6).contains(&i) {
            let _ = write!(out, " {dashes}:|");
        } else {
            let _ = write!(out, " {dashes} |");
        }
    }
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|k| format!("{:.1} GiB", k / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    format!("{cores} cores (nproc), {cpu}, {mem} RAM, Linux {kernel}")
}

pub(crate) fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// The 1-minute load average (other work on the machine skews the figures).
pub(crate) fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "n/a".into())
}

pub(crate) fn progress(msg: &str) {
    eprintln!("bench: {msg}");
}
