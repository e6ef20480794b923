import { register } from "node:module";
register("/work/main/tests/sdk/node/base-url-hook.mjs", import.meta.url, { data: { base: "http://127.0.0.1:18462/api" } });
const { default: S } = await import("/work/main/tests/sdk/node/node_modules/social-media-api/index.js");
const s = new S("k");
await s.history({ platform: ["threads", "twitter"], lastDays: 0, searchAllPosts: true, status: "awaiting approval" });
await s.history({ id: "abc def" });
await s.getPost({ id: "a/b c" });
await s.setProfileKey("").history();
