//! The config file: `keyledger.example.toml` documents every key of `FileConfig` with its
//! default (and cannot drift from it), `keyledger config check` accepts good files and
//! names the problem of bad ones, and a setting's flag beats its environment variable,
//! which beats the file.

mod common;
#[path = "common/postgres.rs"]
mod pg;

use keyledger::config::{FileConfig, LogFormat, DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_REGION};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::BIN;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("keyledger.example.toml")
}

/// The example with its settings uncommented: a line `#key = value` or `#[table]` loses its
/// `#`; prose (`# …`) stays a comment.
fn uncommented(example: &str) -> String {
    example
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if !rest.is_empty() && !rest.starts_with(' ') => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The field names serde knows a struct by: a deserializer that only asks for them.
fn field_names<T: serde::de::DeserializeOwned>() -> BTreeSet<&'static str> {
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl std::error::Error for Fields {}
    impl serde::de::Error for Fields {
        fn custom<M: std::fmt::Display>(_: M) -> Fields {
            Fields(&[])
        }
    }
    struct Asker;
    impl<'de> serde::Deserializer<'de> for Asker {
        type Error = Fields;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let Err(fields) = T::deserialize(Asker) else {
        panic!("only the field names are asked for")
    };
    assert!(
        !fields.0.is_empty(),
        "{} is not a struct",
        std::any::type_name::<T>()
    );
    fields.0.iter().copied().collect()
}

fn keys(table: &toml::Table) -> BTreeSet<&str> {
    table.keys().map(String::as_str).collect()
}

#[test]
fn the_example_documents_every_key_with_its_default() {
    let example = std::fs::read_to_string(example_path()).unwrap();
    // As shipped it sets nothing: every setting is a commented default.
    assert_eq!(
        toml::from_str::<FileConfig>(&example),
        Ok(FileConfig::default())
    );

    let settings = uncommented(&example);
    let table: toml::Table = settings.parse().unwrap();
    let top = field_names::<FileConfig>();
    assert_eq!(keys(&table), top, "the example's keys are FileConfig's");
    let nested = |name: &str| match &table[name] {
        toml::Value::Table(t) => keys(t),
        other => panic!("{name} is not a table: {other:?}"),
    };
    assert_eq!(nested("billing"), field_names::<replay::billing::Prices>());
    assert_eq!(
        nested("compliance"),
        field_names::<keyledger::app::reports::ComplianceSettings>()
    );

    // `[quotas]` is a map: `enabled`, `unauthenticated` and every class, none left out.
    let mut quota_keys: BTreeSet<&str> = ["enabled", "unauthenticated"].into();
    quota_keys.extend(
        keyledger::app::quotas::CLASSES
            .iter()
            .map(|(name, _)| *name),
    );
    assert_eq!(nested("quotas"), quota_keys);

    let parsed: FileConfig = toml::from_str(&settings).unwrap();
    assert_eq!(parsed.validate(), Ok(()));
    assert_eq!(parsed.data_dir, Some(PathBuf::from(DEFAULT_DATA_DIR)));
    assert_eq!(parsed.listen.as_deref(), Some(DEFAULT_LISTEN));
    assert_eq!(parsed.region.as_deref(), Some(DEFAULT_REGION));
    assert_eq!(parsed.public_tlog, Some(false));
    assert_eq!(parsed.fips, Some(false));
    assert_eq!(parsed.allow_plain_http, Some(false));
    assert_eq!(parsed.log_format, Some(LogFormat::default()));
    assert_eq!(
        parsed.report_settings(),
        FileConfig::default().report_settings()
    );

    // The README's settings table names each key too.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for key in top {
        assert!(
            readme.contains(&format!("| `{key}` |")) || readme.contains(&format!("`[{key}]`")),
            "README does not document {key}"
        );
    }
}

fn check(dir: &Path, text: &str) -> (bool, String) {
    check_with(dir, text, &["--values-only"])
}

/// `config check` of `text` written to a file in `dir`, with `flags`.
fn check_with(dir: &Path, text: &str, flags: &[&str]) -> (bool, String) {
    let file = dir.join(format!("{:x}.toml", rand_name(text)));
    std::fs::write(&file, text).unwrap();
    check_file_with(&file, flags)
}

fn rand_name(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

fn check_file(file: &Path) -> (bool, String) {
    check_file_with(file, &[])
}

fn check_file_with(file: &Path, flags: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["config", "check"])
        .args(flags)
        .arg(file)
        .env_remove("KEYLEDGER_LOG_FORMAT")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn config_check_says_ok_to_good_files() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check_file(&example_path()), (true, "ok\n".to_owned()));
    let example = std::fs::read_to_string(example_path()).unwrap();
    assert_eq!(
        check(dir.path(), &uncommented(&example)),
        (true, "ok\n".to_owned())
    );
    assert_eq!(
        check(
            dir.path(),
            "listen = \"0.0.0.0:8443\"\nregion = \"eu-central-1\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nlog_format = \"json\"\n[compliance]\nunused_key_days = 30\n"
        ),
        (true, "ok\n".to_owned())
    );
}

#[test]
fn config_check_names_the_problem_of_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    for (text, problem) in [
        ("lissten = \"127.0.0.1:8080\"\n", "lissten"),
        ("[billing]\nsymetric_per_10k = 1\n", "symetric_per_10k"),
        ("region = \"US East\"\n", "region"),
        ("listen = \"127.0.0.1\"\n", "listen"),
        ("listen = \"127.0.0.1:70000\"\n", "listen"),
        (
            "tls_cert = \"/etc/kl/cert.pem\"\n",
            "tls_cert without tls_key",
        ),
        (
            "tls_key = \"/etc/kl/key.pem\"\n",
            "tls_key without tls_cert",
        ),
        ("account_id = \"42\"\n", "12 digits"),
        ("regions = [\"us-east-1\", \"mars-1\"]\n", "mars-1"),
        ("regions = [\"us-east-1\", \"us-east-1\"]\n", "twice"),
        ("regions = []\n", "empty"),
        ("workers = \"four\"\n", "workers"),
        ("log_format = \"xml\"\n", "log_format"),
        ("database = \"sqlite://x.db\"\n", "postgres"),
        ("listen = \n", "config file"),
    ] {
        let (ok, said) = check(dir.path(), text);
        assert!(!ok, "{text:?} passed: {said}");
        assert!(
            said.contains(problem),
            "{text:?}: {said:?} does not name {problem:?}"
        );
        assert_ne!(said.trim(), "ok");
    }
    let (ok, said) = check_file(&dir.path().join("missing.toml"));
    assert!(!ok && said.contains("missing.toml"), "{said}");
}

#[test]
fn config_check_opens_the_tls_files_and_the_database_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let (cert, key) = common::issue_certificate(&pki, "one");
    let (_, other_key) = common::issue_certificate(&pki, "two");
    let tls = |cert: &Path, key: &Path| {
        format!(
            "tls_cert = {:?}\ntls_key = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        )
    };
    assert_eq!(
        check_with(dir.path(), &tls(&cert, &key), &[]),
        (true, "ok\n".to_owned())
    );
    for (text, problem) in [
        (tls(&cert, &other_key), "is not the key of certificate"),
        (tls(&cert, &pki.join("absent.key")), "absent.key"),
        (tls(&key, &key), "TLS certificate"),
        // Nothing listens on port 1; the password is not shown.
        (
            "database = \"postgres://keyledger:s3cret@127.0.0.1:1/keyledger\"\n".to_owned(),
            "database",
        ),
    ] {
        let (ok, said) = check_with(dir.path(), &text, &[]);
        assert!(!ok, "{text:?} passed: {said}");
        assert!(
            said.contains(problem),
            "{text:?}: {said:?} does not name {problem:?}"
        );
        assert!(!said.contains("s3cret"), "{said}");
        // The same values pass with --values-only, which opens nothing.
        assert_eq!(
            check(dir.path(), &text),
            (true, "ok\n".to_owned()),
            "{text}"
        );
    }
    if let Some(url) = pg::admin_url("config check against PostgreSQL") {
        let (ok, said) = check_with(dir.path(), &format!("database = {url:?}\n"), &[]);
        assert!(ok, "{said}");
    }
}

/// `serve` with `file` and `env`: `Err(stderr)` if it refused to start, `Ok(listening line)`
/// if it started (then it is stopped).
fn serve(file: &str, env: &[(&str, &str)], args: &[&str]) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyledger.toml");
    std::fs::write(&config, file).unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .args(args)
        .env_remove("KEYLEDGER_LISTEN")
        .env_remove("KEYLEDGER_ALLOW_PLAIN_HTTP")
        .env_remove("KEYLEDGER_ROOT_KEY")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        if line.starts_with("listening on ") {
            child.kill().unwrap();
            child.wait().unwrap();
            return Ok(line);
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    Err(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file() {
    let off_loopback = "listen = \"0.0.0.0:0\"\nallow_plain_http = true\n";
    // The file alone: plain HTTP off loopback, as it allows.
    assert!(serve(off_loopback, &[], &[])
        .unwrap()
        .contains("http://0.0.0.0:"));
    // The environment says no: refused, whatever the file says.
    let refused = serve(
        off_loopback,
        &[("KEYLEDGER_ALLOW_PLAIN_HTTP", "false")],
        &[],
    )
    .unwrap_err();
    assert!(
        refused.contains("refusing to serve plain HTTP"),
        "{refused}"
    );
    // The flag says yes: it beats the environment.
    let flag = ["--allow-plain-http"];
    let started = serve(
        off_loopback,
        &[("KEYLEDGER_ALLOW_PLAIN_HTTP", "false")],
        &flag,
    );
    assert!(started.unwrap().contains("http://0.0.0.0:"));

    // The listen address: the environment's beats the file's, the flag's beats both.
    let loopback = "listen = \"127.0.0.1:0\"\n";
    let refused = serve(loopback, &[("KEYLEDGER_LISTEN", "0.0.0.0:0")], &[]).unwrap_err();
    assert!(refused.contains("0.0.0.0"), "{refused}");
    let started = serve(
        loopback,
        &[("KEYLEDGER_LISTEN", "0.0.0.0:0")],
        &["--listen", "127.0.0.1:0"],
    );
    assert!(started.unwrap().contains("http://127.0.0.1:"));

    // A bad value in the file stops serve as it fails config check.
    let bad = serve("tls_cert = \"c.pem\"\n", &[], &[]).unwrap_err();
    assert!(bad.contains("tls_key"), "{bad}");
}
