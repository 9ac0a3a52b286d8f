//! The patchset a file-editing tool call made, as bytes whose digest is the artifact's
//! fingerprint (SPEC §13.11).
//!
//! Claude Code reports an edit's hunks in `tool_response.structuredPatch`; they are written out
//! as a unified diff. A file the `Write` tool created is a diff from `/dev/null`. Otherwise (a
//! tool or a Claude Code version that reports no hunks) the patchset is the edit as requested:
//! `tool_input` as sorted compact JSON.

use serde_json::Value as Json;

use super::sorted_json;

/// The media type of a unified diff.
pub const DIFF: &str = "text/x-diff";
/// The media type of an edit kept as the tool's input.
pub const JSON: &str = "application/json";

/// A patchset's bytes and their media type.
#[derive(Debug)]
pub struct Patch {
    /// What is digested.
    pub bytes: Vec<u8>,
    /// [`DIFF`] or [`JSON`].
    pub media_type: &'static str,
}

/// The tools that change files.
pub fn edits_files(tool: &str) -> bool {
    matches!(tool, "Edit" | "MultiEdit" | "Write" | "NotebookEdit")
}

/// The patchset of a successful file-editing call on `path` (as the artifact names it).
pub fn patch(tool: &str, path: &str, input: &Json, response: Option<&Json>) -> Patch {
    let hunks = response
        .and_then(|r| r.get("structuredPatch"))
        .and_then(Json::as_array)
        .filter(|h| !h.is_empty());
    if let Some(diff) = hunks.and_then(|h| unified_diff(path, h)) {
        return Patch {
            bytes: diff.into_bytes(),
            media_type: DIFF,
        };
    }
    let created = response.and_then(|r| r.get("type")).and_then(Json::as_str) == Some("create")
        || (tool == "Write" && response.and_then(|r| r.get("structuredPatch")).is_none());
    let content = input.get("content").and_then(Json::as_str);
    if let (true, "Write", Some(content)) = (created, tool, content) {
        return Patch {
            bytes: creation_diff(path, content).into_bytes(),
            media_type: DIFF,
        };
    }
    Patch {
        bytes: sorted_json(input).into_bytes(),
        media_type: JSON,
    }
}

// `--- a/P`, `+++ b/P`, then each hunk's `@@ -oldStart,oldLines +newStart,newLines @@` line and
// its lines, each ended by a newline. `None` if a hunk is not of that shape.
fn unified_diff(path: &str, hunks: &[Json]) -> Option<String> {
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    for h in hunks {
        let n = |k: &str| h.get(k).and_then(Json::as_u64);
        let (os, ol, ns, nl) = (
            n("oldStart")?,
            n("oldLines")?,
            n("newStart")?,
            n("newLines")?,
        );
        out.push_str(&format!("@@ -{os},{ol} +{ns},{nl} @@\n"));
        for line in h.get("lines")?.as_array()? {
            out.push_str(line.as_str()?);
            out.push('\n');
        }
    }
    Some(out)
}

// A new file: every line added.
fn creation_diff(path: &str, content: &str) -> String {
    let lines: Vec<&str> = content.lines().collect();
    let mut out = format!(
        "--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
        lines.len()
    );
    for l in lines {
        out.push('+');
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hunks_become_a_unified_diff() {
        let response = json!({"filePath": "/r/src/a.rs", "structuredPatch": [
            {"oldStart": 3, "oldLines": 1, "newStart": 3, "newLines": 2,
             "lines": ["-let x = 1;", "+let x = 2;", "+let y = 3;"]}
        ]});
        let p = patch("Edit", "src/a.rs", &json!({}), Some(&response));
        assert_eq!(p.media_type, DIFF);
        assert_eq!(
            String::from_utf8(p.bytes).unwrap(),
            "--- a/src/a.rs\n+++ b/src/a.rs\n@@ -3,1 +3,2 @@\n-let x = 1;\n+let x = 2;\n+let y = 3;\n"
        );
    }

    #[test]
    fn a_created_file_is_a_diff_from_nothing() {
        let input = json!({"file_path": "/r/n.txt", "content": "a\nb\n"});
        let response = json!({"type": "create", "filePath": "/r/n.txt", "structuredPatch": []});
        let p = patch("Write", "n.txt", &input, Some(&response));
        assert_eq!(
            String::from_utf8(p.bytes).unwrap(),
            "--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
    }

    #[test]
    fn without_hunks_the_edit_is_its_input() {
        let input = json!({"file_path": "/r/a.rs", "old_string": "x", "new_string": "y"});
        let p = patch("Edit", "a.rs", &input, Some(&json!("File edited")));
        assert_eq!(p.media_type, JSON);
        assert_eq!(p.bytes, sorted_json(&input).into_bytes());
        // Hunks of another shape are not guessed at.
        let odd = json!({"structuredPatch": [{"lines": ["+x"]}]});
        assert_eq!(patch("Edit", "a.rs", &input, Some(&odd)).media_type, JSON);
    }
}
