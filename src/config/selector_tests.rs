//! Table tests of the label-selector grammar and the names it is built on.

use super::*;

#[track_caller]
fn ok(s: &str) {
    assert_eq!(label_selector(s), Ok(()), "{s:?}");
}

#[track_caller]
fn bad(s: &str, want: &str) {
    let err = label_selector(s).expect_err(s);
    assert!(err.contains(want), "{s:?}: {err:?} lacks {want:?}");
}

#[test]
fn valid_selectors() {
    ok("");
    ok("  ");
    ok("app=web");
    ok("app==web");
    ok("app!=web");
    ok("app = web , tier != db");
    ok("app=");
    ok("app=,tier");
    ok("app");
    ok("!app");
    ok("app in (a, b)");
    ok("app notin (a)");
    ok("app in (a,)");
    ok("app in (,a)");
    ok("example.com/app in (a-b.c_d)");
    ok("kubernetes.io/hostname=node-1");
    ok("x>5,y<-3");
    ok("a=in,b in (notin)");
    ok(&format!("a={}", "v".repeat(63)));
}

#[test]
fn invalid_selectors() {
    bad("a in (", "no closing ')'");
    bad("a in ()", "must not be empty");
    bad("a in a", "expected '('");
    bad("a in (b c)", "expected ',' or ')'");
    bad("a=b,", "ends with ','");
    bad(",a", "expected a label key");
    bad("a=b=c", "unexpected '='");
    bad("!a=b", "takes no operator");
    bad("a b", "expected an operator");
    bad("a=(b)", "expected a value");
    bad("a>b", "integer");
    bad("a>", "integer");
    bad("-a=b", "key \"-a\"");
    bad("a=-b", "value \"-b\"");
    bad("a/b/c=d", "key name \"b/c\"");
    bad("Example.com/a=b", "key prefix");
    bad("/a=b", "key prefix");
    bad("a/=b", "key name must not be empty");
    bad(&format!("a={}", "v".repeat(64)), "longer than 63");
    bad(&format!("{}=v", "k".repeat(64)), "longer than 63");
    bad("a=b)", "unexpected ')'");
    bad("a in (b),", "ends with ','");
    bad("in=x", "expected a label key, found 'in'");
}

#[test]
fn dns_subdomains() {
    for good in ["node-a", "a", "ip-10-0-0-1.ec2.internal", "0", &"a".repeat(253)] {
        assert_eq!(dns_subdomain(good), Ok(()), "{good}");
    }
    for bad in ["", "Node-A", "-a", "a-", "a..b", ".a", "a.", "a_b", "a b", "\u{fffd}", &"a".repeat(254)] {
        assert!(dns_subdomain(bad).is_err(), "{bad}");
    }
}
