// Preloaded into Node clients under test (NODE_OPTIONS=--require): resolve *.localhost to
// loopback, as browsers do. This machine's resolver knows only plain "localhost", and tests must
// not edit /etc/hosts. Requests keep their real URL and Host header.
const dns = require("dns");
const original = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  } else if (typeof options === "number") {
    options = { family: options };
  }
  if (typeof hostname === "string" && (hostname === "localhost" || hostname.endsWith(".localhost"))) {
    if (options && options.all) {
      return process.nextTick(callback, null, [{ address: "127.0.0.1", family: 4 }]);
    }
    return process.nextTick(callback, null, "127.0.0.1", 4);
  }
  return original.call(this, hostname, options, callback);
};
