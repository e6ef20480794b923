// Module-loader hook used by conformance.mjs (registered with node:module `register`).
//
// The Node SDK keeps its base URL in a module-private constant
//   const BASE_URL = "https://api.ayrshare.com/api";
// that is neither exported nor read from the environment, so the only way to point an
// unmodified install at postgate is to substitute that one line while the module loads.
// Nothing else in the SDK source is touched. If the line is not found exactly once (the
// SDK changed), loading fails loudly instead of silently calling the real Ayrshare.

const NEEDLE = 'const BASE_URL = "https://api.ayrshare.com/api";';
let base = null;

export async function initialize(data) {
  base = data.base;
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!/\/node_modules\/social-media-api\/index\.js$/.test(url)) {
    return result;
  }
  const source = Buffer.from(result.source).toString("utf8");
  const hits = source.split(NEEDLE).length - 1;
  if (hits !== 1) {
    throw new Error(
      `base-url-hook: expected exactly one '${NEEDLE}' in ${url}, found ${hits}`
    );
  }
  return {
    ...result,
    source: source.replace(NEEDLE, `const BASE_URL = ${JSON.stringify(base)};`),
  };
}
