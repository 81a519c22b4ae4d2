//! Writes the CRDs into the chart, or with `--check` fails when the chart's copies are stale.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut check = false;
    let mut dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/webhook-operator/crds"
    ));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--dir" => match args.next() {
                Some(value) => dir = PathBuf::from(value),
                None => return usage("--dir needs a folder"),
            },
            other => return usage(&format!("unknown argument {other}")),
        }
    }

    let mut stale = Vec::new();
    for crd in webhook_crds::definitions() {
        let path = dir.join(webhook_crds::file_name(&crd));
        let yaml = match webhook_crds::to_yaml(&crd) {
            Ok(yaml) => yaml,
            Err(e) => {
                eprintln!("crdgen: cannot render {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
                stale.push(path.display().to_string());
            }
            continue;
        }
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, yaml)) {
            eprintln!("crdgen: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }

    if stale.is_empty() {
        return ExitCode::SUCCESS;
    }
    for path in stale {
        eprintln!("crdgen: {path} is stale; run `cargo run -p webhook-crds --bin crdgen`");
    }
    ExitCode::FAILURE
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("crdgen: {problem}\nusage: crdgen [--check] [--dir FOLDER]");
    ExitCode::from(2)
}
