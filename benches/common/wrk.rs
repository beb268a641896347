//! Load from `wrk` (Debian's package): one request script for every operation, its output
//! read into throughput and percentiles.

use std::path::Path;
use std::process::Command;

/// One request script for every operation: method, path and body come from the
/// environment; `{id}` is replaced by a random sampled ticket id and `{n}` by a counter.
pub const WRK_SCRIPT: &str = r#"
local ids = {}
local f = os.getenv("FD_IDS")
if f and f ~= "" then for line in io.lines(f) do ids[#ids + 1] = line end end
local method = os.getenv("FD_METHOD")
local path = os.getenv("FD_PATH")
local body = os.getenv("FD_BODY")
if body == "" then body = nil end
local headers = {}
local token = os.getenv("FD_TOKEN")
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
local cookie = os.getenv("FD_COOKIE")
if cookie and cookie ~= "" then headers["Cookie"] = cookie end
if body then headers["Content-Type"] = "application/json" end
local n = 0
setup = function(thread) end
init = function(args) math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "1", 16)) end
request = function()
  n = n + 1
  local p, b = path, body
  if #ids > 0 then
    local id = ids[math.random(#ids)]
    p = p:gsub("{id}", id)
    if b then b = b:gsub("{id}", id) end
  end
  if b then b = b:gsub("{n}", tostring(n)) end
  return wrk.format(method, p, headers, b)
end
"#;

/// What `wrk` measured.
pub struct Load {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub failed: u64,
    /// Requests that got no answer within wrk's timeout (2 s). wrk leaves them out of its
    /// latency figures, so a stall longer than that lowers the p99 it prints instead of
    /// raising it: a row with timeouts must say so.
    pub timeouts: u64,
}

fn duration_ms(s: &str) -> f64 {
    let num = |suffix: &str| {
        s.trim_end_matches(suffix)
            .parse::<f64>()
            .unwrap_or(f64::NAN)
    };
    if s.ends_with("us") {
        num("us") / 1000.0
    } else if s.ends_with("ms") {
        num("ms")
    } else if s.ends_with('m') {
        num("m") * 60_000.0
    } else {
        num("s") * 1000.0
    }
}

pub fn parse_wrk(out: &str) -> Load {
    let mut load = Load {
        per_second: 0.0,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        requests: 0,
        failed: 0,
        timeouts: 0,
    };
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => load.p50_ms = duration_ms(v),
            ["99%", v] => load.p99_ms = duration_ms(v),
            ["Requests/sec:", v] => load.per_second = v.parse().unwrap_or(0.0),
            [n, "requests", "in", ..] => load.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => load.failed = n.parse().unwrap_or(0),
            ["Socket", "errors:", .., "timeout", n] => load.timeouts = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    load
}

pub struct Target<'a> {
    pub base: &'a str,
    pub token: &'a str,
    pub ids: &'a Path,
    pub script: &'a Path,
    pub seconds: u64,
    /// wrk's threads.
    pub threads: u32,
}

impl Target<'_> {
    pub fn wrk(&self, clients: u32, method: &str, path: &str, body: &str, cookie: bool) -> Load {
        let out = Command::new("wrk")
            .args([
                &format!("-t{}", self.threads),
                &format!("-c{clients}"),
                &format!("-d{}s", self.seconds),
            ])
            .args(["--latency", "-s"])
            .arg(self.script)
            .arg(self.base)
            .env("FD_IDS", self.ids)
            .env("FD_METHOD", method)
            .env("FD_PATH", path)
            .env("FD_BODY", body)
            .env("FD_TOKEN", if cookie { "" } else { self.token })
            .env(
                "FD_COOKIE",
                if cookie {
                    format!("fd_session={}", self.token)
                } else {
                    String::new()
                },
            )
            .output()
            .expect("wrk (apt-get install wrk)");
        let text = String::from_utf8_lossy(&out.stdout);
        let load = parse_wrk(&text);
        assert!(
            load.requests > 0,
            "wrk {path}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        load
    }
}
