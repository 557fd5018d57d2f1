//! `permlens generate`: realistic logs and a matching snapshot.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::ExitCode;
use crate::catalog::Catalog;
use crate::cli::{GenerateArgs, GenerateFormat};
use crate::fsutil::write_atomic;
use crate::generate::{self, GenFormat, Spec};

/// `123`, `500MB`, `2GiB`, `1g` -> bytes.
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().with_context(|| {
        format!("--size: expected a number with an optional unit (KiB, MB, GiB ...), got {s:?}")
    })?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => bail!("--size: unknown unit {other:?}, expected B, KB, KiB, MB, MiB, GB or GiB"),
    };
    // A float cast saturates: an absurd size would silently become the largest file.
    let bytes = n * mult;
    if !bytes.is_finite() || bytes > MAX_SIZE as f64 {
        bail!("--size: {s:?} is more than the largest size generated, 1 TiB");
    }
    Ok(bytes as u64)
}

/// The largest `--size` generated.
const MAX_SIZE: u64 = 1 << 40;

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let size = parse_size(&args.size)?;
    if args.users == 0 {
        bail!("--users: expected at least 1");
    }
    let spec = Spec {
        format: match args.format {
            GenerateFormat::Json => GenFormat::Json,
            GenerateFormat::Apig => GenFormat::Apig,
            GenerateFormat::Cts => GenFormat::Cts,
        },
        size,
        users: args.users,
        seed: args.seed,
        start: 1_795_737_600_000_000 - i64::from(args.days) * 86_400_000_000, // days before 2026-11-27
        days: args.days,
        bss_share: args.bss_share,
    };
    let catalog = Catalog::embedded();
    let clock = Instant::now();
    let (bytes, lines) = if args.out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        let r = generate::write_logs(&catalog, &spec, &mut w)?;
        w.flush()?;
        r
    } else {
        let file = std::fs::File::create(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let r = generate::write_logs(&catalog, &spec, &mut w)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        w.flush()
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        r
    };
    if let Some(path) = &args.snapshot {
        let snap = generate::snapshot(args.users, args.seed);
        write_atomic(
            path,
            format!("{}\n", serde_json::to_string_pretty(&snap)?).as_bytes(),
        )?;
    }
    let secs = clock.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "permlens: wrote {lines} lines, {:.1} MiB in {secs:.1}s ({:.0} MiB/s)",
        bytes as f64 / 1048576.0,
        bytes as f64 / 1048576.0 / secs
    );
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123").unwrap(), 123);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("1.5k").unwrap(), 1500);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999999").is_err());
        assert!(parse_size("2000GiB").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
