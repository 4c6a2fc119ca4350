//! The shapes the official clients read (issue 17, server side): OpenAI's embeddings with
//! `encoding_format` float and base64, `dimensions` and OpenAI's error envelope; Cohere's v1 embed
//! with `response_type` and `meta`, and v2 embed. Values are checked against each other and
//! against `/v1/embed`, not only shapes. (The official SDKs themselves are not driven yet.)

mod common;

use attune::testing::TinySpec;
use base64::Engine;
use common::Server;

const KEY: &str = "compat-key";

fn post(server: &Server, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let resp = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(server.url(path))
        .header("Authorization", format!("Bearer {KEY}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    let code = resp.status().as_u16();
    (
        code,
        serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap(),
    )
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn openai_and_cohere_shapes_carry_the_same_vectors() {
    let home = tempfile::tempdir().unwrap();
    let base = common::tiny_model(&TinySpec::default());
    let bm = base.path().to_str().unwrap().to_string();
    let server = Server::start(home.path(), &["--api-key", KEY, "--allow-model", &bm], &[]);
    let texts = ["cheap flight to boston", "refund my card"];

    let (code, v1) = post(&server, "/v1/embed", serde_json::json!({"texts": texts, "model": bm}));
    assert_eq!(code, 200, "{v1}");
    assert_eq!(v1["response_type"], "embeddings_floats");
    assert_eq!(v1["meta"]["api_version"]["version"], "1");
    assert!(v1["meta"]["billed_units"]["input_tokens"].as_u64().unwrap() >= 2);
    let reference: Vec<Vec<f32>> = v1["embeddings"].as_array().unwrap().iter().map(floats).collect();
    let (_, typed) = post(
        &server,
        "/v1/embed",
        serde_json::json!({"texts": texts, "model": bm, "embedding_types": ["float", "int8"]}),
    );
    assert_eq!(typed["response_type"], "embeddings_by_type");

    let (code, v2) = post(
        &server,
        "/v2/embed",
        serde_json::json!({"texts": texts, "model": bm, "input_type": "classification"}),
    );
    assert_eq!(code, 200, "{v2}");
    assert_eq!(v2["meta"]["api_version"]["version"], "2");
    assert_eq!(floats(&v2["embeddings"]["float"][1]), reference[1]);

    // OpenAI: float, base64 (little-endian float32), dimensions.
    let (code, f) = post(
        &server,
        "/v1/embeddings",
        serde_json::json!({"input": texts, "model": bm, "user": "u1"}),
    );
    assert_eq!(code, 200, "{f}");
    assert_eq!(floats(&f["data"][0]["embedding"]), reference[0]);
    let (_, b) = post(
        &server,
        "/v1/embeddings",
        serde_json::json!({"input": texts, "model": bm, "encoding_format": "base64"}),
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b["data"][1]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decoded, reference[1]);
    let (code, d) = post(
        &server,
        "/v1/embeddings",
        serde_json::json!({"input": "hi", "model": bm, "dimensions": 8}),
    );
    assert_eq!(code, 200, "{d}");
    let short = floats(&d["data"][0]["embedding"]);
    assert_eq!(short.len(), 8);
    assert!((short.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);

    // Models in OpenAI's shape: the allowed base model by name, retrieved by it too.
    let get = |path: &str| {
        let resp = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
            .get(server.url(path))
            .header("Authorization", format!("Bearer {KEY}"))
            .call()
            .unwrap();
        let code = resp.status().as_u16();
        (
            code,
            serde_json::from_str::<serde_json::Value>(&resp.into_body().read_to_string().unwrap()).unwrap(),
        )
    };
    let (code, list) = get("/v1/models");
    assert_eq!((code, &list["object"]), (200, &serde_json::json!("list")), "{list}");
    let default = attune::DEFAULT_MODEL;
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == default && m["object"] == "model"),
        "{list}"
    );
    let (code, one) = get(&format!("/v1/models/{default}"));
    assert_eq!((code, one["id"].as_str()), (200, Some(default)), "{one}");
    let (code, e) = get("/v1/models/nope");
    assert_eq!(code, 404);
    assert_eq!(e["error"]["code"], "model_not_found");

    // Errors in OpenAI's envelope, typed as the SDKs read them.
    let (code, e) = post(
        &server,
        "/v1/embeddings",
        serde_json::json!({"input": "hi", "model": bm, "dimensions": 999}),
    );
    assert_eq!(code, 400, "{e}");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(e["error"]["message"].as_str().unwrap().contains("1 to 16"), "{e}");
    let (code, e) = post(
        &server,
        "/v1/embeddings",
        serde_json::json!({"input": "hi", "model": "nope"}),
    );
    assert_eq!(code, 404, "{e}");
    assert_eq!(e["error"]["code"], "model_not_found");
    let (code, e) = post(
        &server,
        "/v1/embeddings",
        serde_json::json!({"input": "hi", "model": bm, "encoding_format": "int8"}),
    );
    assert_eq!(code, 422, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("base64"), "{e}");
    let (code, _) = post(
        &server,
        "/v2/embed",
        serde_json::json!({"texts": ["hi"], "model": bm, "output_dimension": 8}),
    );
    assert_eq!(code, 422);
    let (code, _) = post(&server, "/embed", serde_json::json!({"inputs": "hi"}));
    assert_eq!(code, 404);
    let (code, e) = post(&server, "/v1/embeddings", serde_json::json!({"input": "hi"}));
    assert_eq!(code, 422, "{e}");
    assert!(e["error"]["message"].is_string(), "{e}");
}
