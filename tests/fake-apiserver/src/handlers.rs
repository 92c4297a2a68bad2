//! Turns one authenticated request into an answer: routing, the verbs on
//! resources, and discovery. Runs under the state lock, never blocks.

use serde_json::{json, Value};

use crate::discovery;
use crate::eviction;
use crate::http::Request;
use crate::list::{self, Query, Watch};
use crate::ops;
use crate::route::{self, ResPath, Route};
use crate::state::State;
use crate::status::{self, ApiError};
use crate::table;

pub enum Reply {
    Json(u16, Value),
    Watch(Watch),
}

fn ok(v: Value) -> Result<Reply, ApiError> {
    Ok(Reply::Json(200, v))
}

pub fn handle(st: &mut State, req: &Request) -> Reply {
    // `dryRun=All` (kubectl --dry-run=server): answer as if written, then forget it
    let dry = req.param("dryRun") == Some("All") && !matches!(req.method.as_str(), "GET" | "HEAD");
    let saved = dry.then(|| (st.store.clone(), st.deadlines.clone(), st.pdb_violations));
    let reply = match route_request(st, req) {
        Ok(r) => r,
        Err(e) => Reply::Json(e.code, e.to_status()),
    };
    if let Some((store, deadlines, violations)) = saved {
        (st.store, st.deadlines, st.pdb_violations) = (store, deadlines, violations);
    }
    reply
}

fn route_request(st: &mut State, req: &Request) -> Result<Reply, ApiError> {
    let read = req.method == "GET" || req.method == "HEAD";
    match route::parse(&req.path) {
        Route::Version if read => ok(discovery::version()),
        Route::Health if read => Ok(Reply::Json(200, json!("ok"))),
        Route::ApiRoot if read => ok(discovery::api_versions()),
        Route::ApisRoot if read => ok(discovery::api_groups()),
        Route::Group(g) if read => ok(discovery::group(&g)),
        Route::GroupVersion(g, v) if read => ok(discovery::resource_list(&g, &v)),
        Route::Resource(p) => resource(st, req, p),
        Route::NotFound => Err(status::path_not_found()),
        _ => Err(status::method_not_allowed()),
    }
}

fn body_json(req: &Request) -> Result<Value, ApiError> {
    serde_json::from_slice(&req.body)
        .map_err(|e| status::bad_request(format!("couldn't get version/kind; json parse error: {e}")))
}

fn wants_table(req: &Request) -> bool {
    req.header("accept").is_some_and(|a| a.contains("as=Table"))
}

fn resource(st: &mut State, req: &Request, p: ResPath) -> Result<Reply, ApiError> {
    let res = p.res;
    let ns = p.ns.clone().unwrap_or_default();
    let sub = p.sub.as_deref();
    match (req.method.as_str(), p.name.as_deref(), sub) {
        ("GET" | "HEAD", None, None) => {
            let q = Query::from_request(res, p.ns.clone(), req)?;
            if p.watch || req.param("watch").is_some_and(|w| w == "true" || w == "1") {
                return Ok(Reply::Watch(list::watch(q, req)?));
            }
            let l = list::list(st, &q, req)?;
            ok(if wants_table(req) { table::from_list(res, &l) } else { l })
        }
        ("GET" | "HEAD", Some(name), None | Some("status")) => {
            let obj = st.store.get(res, &ns, name)?.clone();
            ok(if wants_table(req) {
                table::from_list(
                    res,
                    &json!({"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "items": [obj]}),
                )
            } else {
                obj
            })
        }
        ("POST", None, None) if p.ns.is_some() || !res.namespaced => {
            let obj = ops::create(st, res, &ns, body_json(req)?)?;
            Ok(Reply::Json(201, obj))
        }
        ("POST", Some(name), Some("eviction")) if res.kind == "Pod" => {
            let (code, v) = eviction::evict(st, &ns, name, &req.body)?;
            Ok(Reply::Json(code, v))
        }
        ("PUT", Some(name), None | Some("status")) => ok(ops::replace(st, res, &ns, name, body_json(req)?, sub)?),
        ("PATCH", Some(name), None | Some("status")) => {
            let ct = req.header("content-type").unwrap_or("");
            ok(ops::patch(st, res, &ns, name, ct, &req.body, sub)?)
        }
        ("DELETE", Some(name), None) => {
            let opts: Value = if req.body.is_empty() { json!({}) } else { body_json(req)? };
            let grace = match req.param("gracePeriodSeconds") {
                Some(g) => Some(
                    g.parse::<i64>().map_err(|_| status::bad_request(format!("invalid gracePeriodSeconds {g:?}")))?,
                ),
                None => opts["gracePeriodSeconds"].as_i64(),
            };
            let rv = opts["preconditions"]["resourceVersion"].as_str();
            // the real server refuses a DELETE for another incarnation of the object
            if let Some(want) = opts["preconditions"]["uid"].as_str() {
                let obj = st.store.get(res, &ns, name)?;
                let have = obj["metadata"]["uid"].as_str().unwrap_or("");
                if want != have {
                    return Err(status::uid_precondition_failed(res.kind, name, want, have));
                }
            }
            ok(ops::delete(st, res, &ns, name, grace, rv)?)
        }
        ("DELETE", None, None) => {
            let q = Query::from_request(res, p.ns.clone(), req)?;
            let names: Vec<(String, String)> = st
                .store
                .list(res, p.ns.as_deref())
                .filter(|o| q.matches(o))
                .map(|o| {
                    (
                        o["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
                        o["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            let grace = req.param("gracePeriodSeconds").and_then(|g| g.parse().ok());
            let mut items = Vec::new();
            for (n, name) in names {
                items.push(ops::delete(st, res, &n, &name, grace, None)?);
            }
            ok(json!({"kind": res.list_kind(), "apiVersion": res.api_version(), "metadata": {}, "items": items}))
        }
        (_, Some(_), Some(s)) if !matches!(s, "status" | "eviction") => Err(status::path_not_found()),
        _ => Err(status::method_not_allowed()),
    }
}
