#!/usr/bin/env python3
"""Conformance driver: the official Ayrshare Python SDK (PyPI `social-post-api`) against postgate.

Run as a subprocess by a Rust integration test. The only change made to the SDK is its
base URL (the module global `ayrshare.ayrshare.base`); every request is built by the SDK.

Environment:
  POSTGATE_BASE      API root, e.g. http://127.0.0.1:12345/api/ (trailing slash optional;
                     a bare http://host:port gets /api appended)
  POSTGATE_API_KEY   API key of the primary profile (sent as `Authorization: Bearer ...`)
  X_CONSUMER_KEY     X BYO consumer key    (header X-Twitter-OAuth1-Api-Key)
  X_CONSUMER_SECRET  X BYO consumer secret (header X-Twitter-OAuth1-Api-Secret)
  POSTGATE_GONE_POST_ID  a post id whose network copies are already gone (step j2)
  SDK_TIMEOUT_SECS   optional watchdog for the whole run (default 120)

Stops at the first failing step. Last line of output: `N passed, M failed`.
Exit code: 0 all passed, 1 a step failed, 2 bad environment / SDK not installed.
"""

import datetime
import importlib
import json
import os
import random
import signal
import string
import urllib.request
import sys
from urllib.parse import urlsplit

try:
    sdk = importlib.import_module("ayrshare.ayrshare")
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"cannot import the Python SDK (pip install -r requirements.txt): {exc}")
    sys.exit(2)

SocialPost = sdk.SocialPost

UNKNOWN_ID = "AAAAAAAAAAAAAAAAAAAA"
WATCHDOG = {"fired": False, "secs": 0}
PLATFORMS = ["threads", "twitter"]


class StepFailed(Exception):
    pass


def env(name):
    value = os.environ.get(name, "")
    if not value:
        print(f"missing environment variable {name}")
        print("0 passed, 1 failed")
        sys.exit(2)
    return value


def normalise_base(raw):
    """The Python SDK concatenates `base + "post"`, so its base must end with '/'."""
    root = raw.strip().rstrip("/")
    if urlsplit(root).path in ("", "/"):
        root += "/api"
    return root + "/"


def rand(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def show(value):
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


class Check:
    """Assertions that carry the response being checked, so a failure prints it."""

    def __init__(self, body):
        self.body = body

    def fail(self, msg):
        raise StepFailed(f"{msg}\n    response: {show(self.body)}")

    def true(self, cond, msg):
        if not cond:
            self.fail(msg)

    def eq(self, path, expected):
        actual = get(self.body, path)
        if actual != expected:
            self.fail(f"expected {path} == {expected!r}, got {actual!r}")
        return actual

    def has(self, path):
        actual = get(self.body, path)
        if actual is None or actual == "":
            self.fail(f"expected {path} to be present and non-empty, got {actual!r}")
        return actual

    def str_len(self, path, n):
        actual = get(self.body, path)
        if not isinstance(actual, str) or len(actual) != n:
            self.fail(f"expected {path} to be a {n}-char string, got {actual!r}")
        return actual

    def array(self, path, length=None):
        actual = get(self.body, path)
        if not isinstance(actual, list):
            self.fail(f"expected {path} to be an array, got {actual!r}")
        if length is not None and len(actual) != length:
            self.fail(f"expected {path} to have {length} items, got {len(actual)}")
        return actual


def get(body, path):
    """Dotted path lookup: 'postIds.0.status'. Missing -> None."""
    cur = body
    for part in path.split("."):
        if isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur


def call(label, fn, *args):
    """Call an SDK method; it returns r.json() whatever the HTTP status, so the body is
    checked as-is. Exceptions (non-JSON body, connection refused) become step failures."""
    try:
        body = fn(*args)
    except Exception as exc:  # noqa: BLE001 - any SDK/transport error fails the step
        if WATCHDOG["fired"]:
            raise StepFailed(f"{label}: watchdog: no answer within {WATCHDOG['secs']}s overall") from exc
        raise StepFailed(f"{label} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(body, dict):
        raise StepFailed(f"{label} returned a non-object JSON body: {show(body)}")
    return body


def publish(api, text, **extra):
    data = {"post": text, "platforms": list(PLATFORMS)}
    data.update(extra)
    body = call("post", api.post, data)
    return body, Check(body)


def check_published(body, c):
    c.eq("status", "success")
    post_id = c.str_len("id", 20)
    ids = c.array("postIds", 2)
    c.true([p.get("platform") if isinstance(p, dict) else None for p in ids] == PLATFORMS,
           f"expected postIds platforms {PLATFORMS} in that order")
    for i, _ in enumerate(ids):
        c.eq(f"postIds.{i}.status", "success")
        c.has(f"postIds.{i}.id")
        c.has(f"postIds.{i}.postUrl")
    return post_id


def main():
    timeout = int(os.environ.get("SDK_TIMEOUT_SECS", "120"))
    base = normalise_base(env("POSTGATE_BASE"))
    api_key = env("POSTGATE_API_KEY")
    x_key = env("X_CONSUMER_KEY")
    x_secret = env("X_CONSUMER_SECRET")
    # A server answering a PNG at any path (the gateway downloads the images itself).
    media_root = env("POSTGATE_MEDIA_URL").rstrip("/")

    # The single patch: the module global every do* helper reads at call time.
    sdk.base = base

    # requests is called without a timeout by the SDK, so a hung server would hang us.
    def on_timeout(_signum, _frame):
        WATCHDOG["fired"] = True
        raise TimeoutError(f"watchdog: no answer within {timeout}s overall")

    WATCHDOG["secs"] = timeout

    signal.signal(signal.SIGALRM, on_timeout)
    signal.alarm(timeout)

    run_id = rand()
    state = {}
    primary = SocialPost(api_key)
    primary.set_twitter_byo(x_key, x_secret)

    def a_create_profile():
        title = f"sdk-{run_id}"
        body = call("createProfile", primary.createProfile, {"title": title})
        c = Check(body)
        c.eq("status", "success")
        state["profile_key"] = c.has("profileKey")
        c.has("refId")
        c.eq("title", title)

    def b1_profile_get_unknown():
        other = SocialPost(api_key).setProfileKey(state["profile_key"])
        state["other"] = other
        body = call("getPost", other.getPost, {"id": UNKNOWN_ID})
        Check(body).eq("status", "error")

    def b2_profile_history_empty():
        body = call("history", state["other"].history)
        c = Check(body)
        c.array("history", 0)

    def c_post():
        text = f"hello {run_id}"
        body, c = publish(primary, text)
        state["id"] = check_published(body, c)
        state["text"] = text

    def d_get_post():
        body = call("getPost", primary.getPost, {"id": state["id"]})
        c = Check(body)
        c.eq("id", state["id"])
        c.eq("post", state["text"])
        c.eq("status", "success")

    def e_history():
        body = call("history", primary.history)
        c = Check(body)
        c.array("history")
        c.true(len(body["history"]) >= 1, "expected history to have at least 1 item")
        c.eq("history.0.id", state["id"])

    def f_delete():
        body = call("delete", primary.delete, {"id": state["id"]})
        c = Check(body)
        c.eq("status", "success")
        c.eq("code", 200)
        c.eq("id", state["id"])
        for platform in PLATFORMS:
            c.eq(f"{platform}.status", "success")
            c.eq(f"{platform}.action", "delete")

    def g_delete_again():
        body = call("delete", primary.delete, {"id": state["id"]})
        c = Check(body)
        c.eq("status", "error")
        c.eq("code", 383)
        c.eq("message", "The post is already deleted.")

    def h_bulk_delete():
        ids = []
        for n in (1, 2):
            body, c = publish(primary, f"bulk {n} {run_id}")
            ids.append(check_published(body, c))
        body = call("delete(bulk)", primary.delete, {"bulk": ids})
        c = Check(body)
        c.eq("status", "success")
        c.array("posts", 2)
        for i, post_id in enumerate(ids):
            c.eq(f"posts.{i}.status", "success")
            c.eq(f"posts.{i}.id", post_id)

    def i_delete_all_scheduled():
        when = (datetime.datetime.now(datetime.timezone.utc)
                + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body, c = publish(primary, f"scheduled {run_id}", scheduleDate=when)
        c.eq("status", "scheduled")
        post_id = c.str_len("id", 20)
        body = call("delete(deleteAllScheduled)", primary.delete, {"deleteAllScheduled": True})
        c = Check(body)
        c.eq("status", "success")
        count = get(body, "count")
        c.true(isinstance(count, int) and not isinstance(count, bool) and count >= 1,
               f"expected count to be an integer >= 1, got {count!r}")
        ids = c.array("ids")
        c.true(post_id in ids, f"expected ids to contain {post_id}")

    def j1_mark_manual_deleted_live():
        body, c = publish(primary, f"manual {run_id}")
        post_id = check_published(body, c)
        body = call("delete(markManualDeleted)", primary.delete,
                    {"id": post_id, "markManualDeleted": True})
        c = Check(body)
        c.eq("status", "error")
        c.eq("code", 382)
        c.eq("markManualDeleted", True)
        c.eq("id", post_id)

    def j2_mark_manual_deleted_gone():
        post_id = env("POSTGATE_GONE_POST_ID")
        body = call("delete(markManualDeleted)", primary.delete,
                    {"id": post_id, "markManualDeleted": True})
        c = Check(body)
        c.eq("status", "success")
        c.eq("id", post_id)

    def k_delete_unknown():
        body = call("delete", primary.delete, {"id": UNKNOWN_ID})
        c = Check(body)
        c.eq("status", "error")
        c.eq("code", 114)
        c.eq("message", "Delete id not found.")

    def l_delete_profile():
        # The SDK sends DELETE /profiles/delete-profile (postgate also serves /profiles/profile).
        title = f"sdk-del-{rand(6)}"
        created = Check(call("createProfile", primary.createProfile, {"title": title}))
        key = created.has("profileKey")
        body = call("deleteProfile", primary.deleteProfile, {"profileKey": key})
        c = Check(body)
        c.eq("status", "success")
        c.eq("title", title)
        gone = call("deleteProfile", primary.deleteProfile, {"profileKey": key})
        Check(gone).eq("status", "error")

    def m_generate_jwt():
        # privateKey is accepted and ignored by a self-hosted gateway.
        body = call("generateJWT", primary.generateJWT, {
            "domain": "sdk-conformance",
            "privateKey": "-----BEGIN RSA PRIVATE KEY-----",
            "expiresIn": 10,
        })
        c = Check(body)
        c.eq("status", "success")
        c.eq("title", "Primary Profile")
        c.eq("emailSent", False)
        c.eq("expiresIn", "10m")
        token = c.has("token")
        url = c.has("url")
        c.true(url.endswith(f"/link?jwt={token}"), f"url {url} is not the linking page")
        with urllib.request.urlopen(url, timeout=10) as page:
            c.true(page.status == 200, f"the linking page answered {page.status}")

    def m_webhooks():
        # `feed` never fires in postgate, so nothing is ever sent to this URL.
        url = f"https://example.com/postgate-sdk-{run_id}"
        c = Check(call("registerWebhook", primary.registerWebhook, {"action": "feed", "url": url}))
        c.eq("status", "success")
        c.eq("action", "feed")
        c.eq("url", url)
        c.has("refId")
        c = Check(call("listWebhooks", primary.listWebhooks))
        c.eq("status", "success")
        hooks = c.array("webhooks")
        c.true(any(h.get("action") == "feed" and h.get("url") == url for h in hooks),
               "expected the feed webhook listed")
        c = Check(call("unregisterWebhook", primary.unregisterWebhook, {"action": "feed"}))
        c.eq("status", "success")
        c = Check(call("listWebhooks", primary.listWebhooks))
        c.true(not any(h.get("action") == "feed" for h in c.array("webhooks")),
               "expected the feed webhook gone")

    def o_media():
        media_urls = [f"{media_root}/sdk-{run_id}-a.png", f"{media_root}/sdk-{run_id}-b.png"]
        body, c = publish(primary, f"pictures {run_id}", mediaUrls=media_urls)
        check_published(body, c)

    def p_random():
        data = {"randomPost": True, "randomMediaUrl": True, "platforms": list(PLATFORMS)}
        body = call("post", primary.post, data)
        c = Check(body)
        check_published(body, c)
        c.has("post")
        c.has("refId")
        c.array("errors", 0)

    def o_update_and_get_profiles():
        title = f"sdk-upd-{rand(6)}"
        created = Check(call("createProfile", primary.createProfile, {"title": title}))
        key = created.has("profileKey")
        ref = created.has("refId")
        c = Check(call("updateProfile", primary.updateProfile, {
            "profileKey": key, "title": title + "-2", "disableSocial": ["twitter"],
            "hideTitle": True, "displayTitle": "Shown",
        }))
        c.eq("status", "success")
        c.eq("refId", ref)
        c = Check(call("getProfiles", primary.getProfiles, {"profileKeys": [key]}))
        profiles = c.array("profiles", 1)
        c.eq("profiles.0.title", title + "-2")
        c.eq("profiles.0.refId", ref)
        c.has("profiles.0.created")
        c.has("profiles.0.createdUTC")
        c.eq("profiles.0.disableSocial", ["twitter"])
        c.true(isinstance(profiles[0].get("activeSocialAccounts"), list), "activeSocialAccounts")
        Check(call("deleteProfile", primary.deleteProfile, {"profileKey": key})).eq("status", "success")

    def p_user():
        c = Check(call("user", primary.user, {"instagramQuota": True}))
        c.eq("activeSocialAccounts", ["threads", "twitter"])
        c.eq("title", "Primary Profile")
        c.has("refId")
        c.has("created")
        calls = get(c.body, "monthlyApiCalls")
        c.true(isinstance(calls, int) and calls > 10, "expected monthlyApiCalls to count this run's calls")
        names = c.array("displayNames", 2)
        for i, n in enumerate(names):
            for field in ("created", "displayName", "id", "platform", "profileUrl", "userImage", "username"):
                c.true(field in n, f"displayNames.{i} lacks {field}")

    def q_update_post():
        due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body, c = publish(primary, f"sdk later {run_id}", scheduleDate=due)
        post_id = c.str_len("id", 20)
        c = Check(call("updatePost", primary.updatePost, {"id": post_id, "post": f"sdk changed {run_id}"}))
        c.eq("status", "success")
        c.eq("postStatus", "pending")
        c = Check(call("getPost", primary.getPost, {"id": post_id}))
        c.eq("post", f"sdk changed {run_id}")
        c = Check(call("history", primary.history))
        c.eq("history.0.id", post_id)
        c.eq("history.0.type", "scheduled")
        c.eq("history.0.scheduleDate", due)
        # Approval: held until approved, then published.
        body, c = publish(primary, f"sdk approve {run_id}", requiresApproval=True)
        c.eq("status", "awaiting approval")
        post_id = c.str_len("id", 20)
        c = Check(call("updatePost", primary.updatePost, {"id": post_id, "approved": True}))
        c.eq("status", "success")
        c.eq("postStatus", "success")
        # A published post keeps its text.
        c = Check(call("updatePost", primary.updatePost, {"id": post_id, "post": "changed"}))
        c.eq("status", "error")
        c.eq("code", 941)

    def r_retry_post():
        # Bluesky is not linked in this run: it fails, and a retry sends only it again.
        body = call("post", primary.post, {"post": f"sdk retry {run_id}", "platforms": ["threads", "twitter", "bluesky"]})
        c = Check(body)
        c.eq("status", "error")
        c.eq("errors.0.platform", "bluesky")
        post_id = c.str_len("id", 20)
        c = Check(call("retryPost", primary.retryPost, {"id": post_id}))
        c.eq("status", "error")
        c.eq("id", post_id)
        c.eq("errors.0.platform", "bluesky")
        c.eq("errors.0.code", 156)
        c.array("postIds", 2)
        c = Check(call("retryPost", primary.retryPost, {"id": UNKNOWN_ID}))
        c.eq("status", "error")
        c.eq("code", 920)

    def s_webhook_shape():
        url = f"https://example.com/postgate-sdk-shape-{run_id}"
        for action in ("scheduled", "accountActivity"):
            c = Check(call("registerWebhook", primary.registerWebhook, {"action": action, "url": url}))
            c.eq("status", "success")
        c = Check(call("listWebhooks", primary.listWebhooks))
        c.eq("scheduled", url)
        c.eq("accountActivity", url)
        c.has("updated")
        for action in ("scheduled", "accountActivity"):
            Check(call("unregisterWebhook", primary.unregisterWebhook, {"action": action})).eq("status", "success")

    steps = [
        ("a. createProfile", a_create_profile),
        ("b1. profile instance: getPost unknown id -> error", b1_profile_get_unknown),
        ("b2. profile instance: history is empty array", b2_profile_history_empty),
        ("c. post to threads+twitter", c_post),
        ("d. getPost", d_get_post),
        ("e. history lists the post first", e_history),
        ("f. delete by id", f_delete),
        ("g. delete again -> 383", g_delete_again),
        ("h. bulk delete", h_bulk_delete),
        ("i. deleteAllScheduled", i_delete_all_scheduled),
        ("j1. markManualDeleted on a post still live -> 382", j1_mark_manual_deleted_live),
        ("j2. markManualDeleted on a post gone from the networks", j2_mark_manual_deleted_gone),
        ("k. delete unknown id -> 114", k_delete_unknown),
        ("l. deleteProfile", l_delete_profile),
        ("m. generateJWT -> the linking page's URL", m_generate_jwt),
        ("n. registerWebhook, listWebhooks, unregisterWebhook", m_webhooks),

        ("o. updateProfile, getProfiles by profileKeys", o_update_and_get_profiles),
        ("p. user, field for field", p_user),
        ("q. updatePost: scheduled text, approval, a sent post's text", q_update_post),
        ("r. retryPost sends only the failed platform", r_retry_post),
        ("s. listWebhooks in Ayrshare's shape", s_webhook_shape),
        ("t. post with mediaUrls (two images) to threads+twitter", o_media),
        ("u. randomPost + randomMediaUrl (Ayrshare's test helpers)", p_random),
    ]

    print(f"python SDK social-post-api, base {base}")
    passed = 0
    for name, fn in steps:
        try:
            fn()
        except (StepFailed, TimeoutError) as exc:
            print(f"FAIL {name}: {exc}")
            print(f"{passed} passed, 1 failed")
            return 1
        print(f"ok   {name}")
        passed += 1
    signal.alarm(0)
    print(f"{passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
