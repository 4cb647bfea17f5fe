//! nginx's `data.json`, byte for byte what `nginx/make_data.py` writes
//! (Python's `json.dumps(doc, indent=1)` plus a newline): 2,070 bytes.

/// The document's text.
pub fn data_json() -> String {
    let mut items = Vec::new();
    for i in 0..16u32 {
        let tags = ["async", "bench"][..1 + (i % 2) as usize]
            .iter()
            .map(|t| format!("    \"{t}\""))
            .collect::<Vec<_>>()
            .join(",\n");
        items.push(format!(
            "  {{\n   \"id\": {i},\n   \"name\": \"item-{i:03}\",\n   \"price_cents\": {},\n   \
             \"tags\": [\n{tags}\n   ],\n   \"in_stock\": {}\n  }}",
            (i * 7919) % 10000,
            i % 3 != 0,
        ));
    }
    format!(
        "{{\n \"service\": \"bench\",\n \"version\": 1,\n \"items\": [\n{}\n ]\n}}\n",
        items.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::BODY_LEN;

    #[test]
    fn has_the_spec_size() {
        assert_eq!(data_json().len(), BODY_LEN);
    }

    /// Compared with the Python generator itself, where python3 exists.
    #[test]
    fn matches_make_data_py() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/nginx/make_data.py");
        let source = std::fs::read_to_string(script).unwrap();
        // Everything up to the file write: it builds `text`; print it instead.
        let build = source.split("out = ").next().unwrap();
        let program = format!("{build}\nimport sys\nsys.stdout.write(text)\n");
        let Ok(output) = std::process::Command::new("python3")
            .args(["-c", &program])
            .output()
        else {
            eprintln!("python3 not found: skipped");
            return;
        };
        assert!(output.status.success());
        assert_eq!(String::from_utf8(output.stdout).unwrap(), data_json());
    }
}
