#include "gateway/config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "gateway/common/limits.h"
#include "gateway/tomlread/tomlread.h"

namespace cg::config {
namespace {

using limits::config_bytes_max;

using tomlread::Section;

std::string resolve(const std::string& path, const std::string& config_file) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(config_file).parent_path() / p).lexically_normal().string();
}

// A required path, resolved against the config file's directory.
std::string path(Section& s, const std::string& key) {
  std::string p = *s.string(key, true);
  if (p.empty()) s.fail(key, "must not be empty");
  if (p.find('\0') != std::string::npos) s.fail(key, "must not contain NUL");
  return resolve(p, s.file());
}

bool is_loopback_endpoint(std::string_view endpoint) {
  // tcp://127.x.y.z:port, tcp://[::1]:port, tcp://localhost:port, or host:port of the same.
  if (endpoint.starts_with("tcp://")) endpoint.remove_prefix(6);
  return endpoint.starts_with("127.") || endpoint.starts_with("[::1]:") ||
         endpoint.starts_with("localhost:");
}

void check_listen(Section& s, const std::string& key, const std::string& value, bool allow_any) {
  if (value.empty()) s.fail(key, "must not be empty");
  if (!allow_any && !is_loopback_endpoint(value)) {
    s.fail(key, "'" + value +
                    "' is not a loopback address (set node.allow_non_loopback = true to "
                    "listen elsewhere)");
  }
}

bool is_identifier(const std::string& s) {
  if (s.empty() || s.size() > limits::name_bytes_max) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// A peer's CURVE public key: given inline (`curve_public`) or as the file `cellgate curve
// keygen` printed it to (`curve_public_file`: the 40-character key and at most one newline),
// never both. A file that is not a regular file, or holds anything else, refuses the config.
std::string read_curve_key(Section& s, const std::string& key) {
  const std::string key_file = key + "_file";
  const bool inline_key = s.string(key, false).has_value();
  const bool file_key = s.string(key_file, false).has_value();
  if (inline_key == file_key) {
    s.fail(inline_key ? key_file : key, "give exactly one of " + key + " and " + key_file);
    return {};
  }
  if (inline_key) {
    std::string k = *s.string(key, true);
    if (k.size() != 40) s.fail(key, "must be a 40-character Z85 key");
    return k;
  }
  const std::string file = path(s, key_file);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    s.fail(key_file, "'" + file + "' is not a regular file");
  }
  std::ifstream in(file, std::ios::binary);
  std::string text(64, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) s.fail(key_file, "cannot read '" + file + "'");
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() == 41 && text.back() == '\n') text.pop_back();
  if (text.size() != 40 || text.find_first_of(" \t\r\n") != std::string::npos) {
    s.fail(key_file, "'" + file + "' does not hold one 40-character Z85 key");
  }
  return text;
}

void read_curve_public(Section& s, CurvePeer& p) {
  if (!s.string("curve_public", false) && !s.string("curve_public_file", false)) {
    s.fail("id", "give exactly one of curve_public and curve_public_file");
    return;
  }
  p.curve_public = read_curve_key(s, "curve_public");
}

std::vector<CurvePeer> read_peers(Section& parent, const std::string& key,
                                  const std::string& name) {
  std::vector<CurvePeer> peers;
  const toml::array* array = parent.array_of_tables(key);
  if (!array) return peers;
  if (array->size() > limits::curve_peers_max)
    parent.fail(key, "more than " + std::to_string(limits::curve_peers_max) + " entries");
  std::set<std::string> ids, keys;
  for (std::size_t i = 0; i < array->size(); ++i) {
    Section s(*array->get(i)->as_table(), name + "[" + std::to_string(i) + "]", parent.file());
    CurvePeer p;
    p.id = *s.string("id", true);
    if (!is_identifier(p.id)) s.fail("id", "must be 1-128 of [A-Za-z0-9._-]");
    read_curve_public(s, p);
    if (!ids.insert(p.id).second) s.fail("id", "duplicate id '" + p.id + "'");
    if (!keys.insert(p.curve_public).second) s.fail("curve_public", "key listed twice");
    s.finish();
    peers.push_back(std::move(p));
  }
  return peers;
}

std::vector<std::string> string_list(Section& s, const std::string& key) {
  std::vector<std::string> out;
  const toml::node* n = s.node(key);
  if (!n) return out;
  const toml::array* a = n->as_array();
  if (!a) s.fail(key, "must be an array of strings");
  if (a->size() > limits::curve_peers_max) s.fail(key, "too many entries");
  for (const auto& e : *a) {
    auto v = e.value<std::string>();
    if (!e.is_string() || !v) s.fail(key, "must be an array of strings");
    out.push_back(*v);
  }
  return out;
}

bool is_host_port(const std::string& v) {
  const auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= v.size()) return false;
  // At most five digits before converting: a longer run of digits is out of range for any
  // integer type (std::stoul would throw; the fuzzer found it).
  if (v.size() - colon - 1 > 5) return false;
  std::uint32_t port = 0;
  for (std::size_t i = colon + 1; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    port = port * 10 + static_cast<std::uint32_t>(v[i] - '0');
  }
  return port <= 65535;
}

void read_link_common(Section& s, LinkCommon& l, bool party_required) {
  l.name = *s.string("name", true);
  if (!is_identifier(l.name)) s.fail("name", "must be 1-128 of [A-Za-z0-9._-]");
  if (auto p = s.string("party", party_required)) {
    l.party = *p;
    if (!is_identifier(l.party)) s.fail("party", "must be 1-128 of [A-Za-z0-9._-]");
  }
  const auto link_id = s.integer("link_id", 0, 0xffffffffLL);
  if (!link_id) s.fail("link_id", "missing");
  l.link_id = static_cast<std::uint32_t>(*link_id);
  l.key_file = path(s, "key_file");
  l.data_fragments =
      static_cast<std::uint32_t>(s.integer("data_fragments", 1, 128).value_or(l.data_fragments));
  l.parity_fragments = static_cast<std::uint32_t>(
      s.integer("parity_fragments", 0, 128).value_or(l.parity_fragments));
  if (l.data_fragments + l.parity_fragments > 255) {
    s.fail("parity_fragments", "data_fragments + parity_fragments must be at most 255");
  }
  l.datagram_bytes = static_cast<std::uint32_t>(
      s.integer("datagram_bytes", 512, 65507).value_or(l.datagram_bytes));
}

NodeConfig parse_table(const toml::table& root, const std::string& file) {
  NodeConfig c;
  c.source_file = file;
  Section top(root, "", file);

  const toml::table* node_table = top.table("node");
  if (!node_table) top.fail_at(root.source(), "[node]: missing");
  Section node(*node_table, "node", file);
  c.id = *node.string("id", true);
  if (!is_identifier(c.id)) node.fail("id", "must be 1-128 of [A-Za-z0-9._-]");
  c.party = *node.string("party", true);
  if (!is_identifier(c.party)) node.fail("party", "must be 1-128 of [A-Za-z0-9._-]");
  const std::string role = *node.string("role", true);
  if (role == "gateway")
    c.role = Role::gateway;
  else if (role == "relay")
    c.role = Role::relay;
  else if (role == "receiver")
    c.role = Role::receiver;
  else if (role == "guard")
    c.role = Role::guard;
  else
    node.fail("role", "must be gateway, relay, receiver or guard");
  c.store = path(node, "store");
  c.store_bytes_max = static_cast<std::uint64_t>(
      node.integer("store_bytes_max", 16 << 20, std::int64_t{1} << 40).value_or(1 << 30));
  c.allow_non_loopback = node.boolean("allow_non_loopback").value_or(false);
  node.finish();

  // Sections that do not belong to the role are refused before their contents are read.
  if (root.contains("ingest") && c.role != Role::gateway)
    top.fail("ingest", "only a gateway has [ingest]");
  if (root.contains("deliver") && c.role != Role::receiver) {
    top.fail("deliver", "only a receiver has [deliver]");
  }

  if (root.contains("pipeline") && c.role != Role::gateway) {
    top.fail("pipeline", "only a gateway has [pipeline]");
  }
  if (root.contains("relay") && c.role != Role::relay)
    top.fail("relay", "only a relay has [relay]");
  if (root.contains("recovery") && c.role != Role::receiver)
    top.fail("recovery", "only a receiver has [recovery]");
  if (root.contains("guard") && c.role != Role::gateway && c.role != Role::guard)
    top.fail("guard", "only a gateway (where its guard listens) or a guard has [guard]");
  if (c.role == Role::guard) {
    for (const char* t : {"link_out", "link_in", "ingest"})
      if (root.contains(t)) top.fail(t, "a guard has no [" + std::string(t) + "]: it only signs");
  }
  if (root.contains("link_out") && c.role == Role::receiver) {
    top.fail("link_out", "a receiver never sends: it has no [[link_out]]");
  }
  if (root.contains("link_in") && c.role == Role::gateway) {
    top.fail("link_in", "a gateway has no [[link_in]] (nothing flows back)");
  }

  if (const toml::table* t = top.table("metrics")) {
    Section s(*t, "metrics", file);
    c.metrics.listen = *s.string("listen", true);
    check_listen(s, "listen", c.metrics.listen, c.allow_non_loopback);
    s.finish();
  }

  if (const toml::table* t = top.table("ingest")) {
    Section s(*t, "ingest", file);
    Ingest in;
    in.listen = s.string("listen", false).value_or(in.listen);
    check_listen(s, "listen", in.listen, c.allow_non_loopback);
    in.curve_secret_file = path(s, "curve_secret_file");
    in.batch_items_max = static_cast<std::uint32_t>(
        s.integer("batch_items_max", 1, limits::batch_items_max).value_or(in.batch_items_max));
    in.inbox_items_max =
        static_cast<std::uint64_t>(s.integer("inbox_items_max", 1, 10'000'000)
                                       .value_or(static_cast<std::int64_t>(in.inbox_items_max)));
    in.sources = read_peers(s, "source", "ingest.source");
    s.finish();
    if (in.sources.empty()) s.fail_at(t->source(), "ingest.source: at least one source is needed");
    c.ingest = std::move(in);
  } else if (c.role == Role::gateway) {
    top.fail_at(root.source(), "[ingest]: a gateway needs it");
  }

  if (const toml::table* t = top.table("guard")) {
    Section s(*t, "guard", file);
    if (c.role == Role::gateway) {
      GuardClient g;
      g.endpoint = *s.string("endpoint", true);
      check_listen(s, "endpoint", g.endpoint, c.allow_non_loopback);
      if (!g.endpoint.starts_with("tcp://")) s.fail("endpoint", "must be tcp://host:port");
      g.curve_public = read_curve_key(s, "curve_public");
      g.curve_secret_file = path(s, "curve_secret_file");
      g.timeout_ms =
          static_cast<std::uint32_t>(s.integer("timeout_ms", 100, 600'000).value_or(g.timeout_ms));
      s.finish();
      c.guard = std::move(g);
    } else {
      GuardService g;
      g.listen = s.string("listen", false).value_or(g.listen);
      check_listen(s, "listen", g.listen, c.allow_non_loopback);
      if (!g.listen.starts_with("tcp://")) s.fail("listen", "must be tcp://host:port");
      g.curve_secret_file = path(s, "curve_secret_file");
      g.filter_curve_public = read_curve_key(s, "filter_curve_public");
      g.gateway = *s.string("gateway", true);
      if (!is_identifier(g.gateway)) s.fail("gateway", "must be 1-128 of [A-Za-z0-9._-]");
      g.epoch_items_max =
          static_cast<std::uint64_t>(s.integer("epoch_items_max", 1, std::int64_t{1} << 32)
                                         .value_or(static_cast<std::int64_t>(g.epoch_items_max)));
      g.epoch_seconds = static_cast<std::uint32_t>(
          s.integer("epoch_seconds", 1, 7 * 86'400).value_or(g.epoch_seconds));
      s.finish();
      c.guard_service = std::move(g);
    }
  } else if (c.role == Role::guard) {
    top.fail_at(root.source(), "[guard]: a guard needs it");
  }
  if (c.role == Role::guard && !root.contains("keys"))
    top.fail_at(root.source(), "[keys]: a guard needs its signing key and the trust root");

  if (const toml::table* t = top.table("deliver")) {
    Section s(*t, "deliver", file);
    Deliver d;
    d.listen = s.string("listen", false).value_or(d.listen);
    check_listen(s, "listen", d.listen, c.allow_non_loopback);
    d.curve_secret_file = path(s, "curve_secret_file");
    d.window_max =
        static_cast<std::uint32_t>(s.integer("window_max", 1, 65536).value_or(d.window_max));
    d.redeliver_after_ms = static_cast<std::uint32_t>(
        s.integer("redeliver_after_ms", 100, 3'600'000).value_or(d.redeliver_after_ms));
    d.consumers = read_peers(s, "consumer", "deliver.consumer");
    s.finish();
    if (d.consumers.empty()) {
      s.fail_at(t->source(), "deliver.consumer: at least one consumer is needed");
    }
    c.deliver = std::move(d);
  } else if (c.role == Role::receiver) {
    top.fail_at(root.source(), "[deliver]: a receiver needs it");
  }
  if (const toml::table* t = top.table("keys")) {
    Section s(*t, "keys", file);
    Keys k;
    // A gateway with a separate guard holds no signing key (the guard does).
    if (c.role != Role::gateway || !root.contains("guard") || s.string("signing_key", false))
      k.signing_key = path(s, "signing_key");
    if (s.string("agreement_key", false)) k.agreement_key = path(s, "agreement_key");
    if (s.string("passphrase_file", false)) k.passphrase_file = path(s, "passphrase_file");
    k.trust_root = path(s, "trust_root");
    s.finish();
    if (c.role == Role::gateway && root.contains("guard") && !k.signing_key.empty()) {
      s.fail("signing_key",
             "a gateway with a [guard] must not hold the signing key: only the guard does");
    }
    if (c.role == Role::guard && !k.agreement_key.empty())
      s.fail("agreement_key", "a guard has no key-agreement key");
    if (c.role != Role::gateway && c.role != Role::guard && k.agreement_key.empty()) {
      s.fail_at(t->source(), "keys.agreement_key: a " + std::string(role_name(c.role)) +
                                 " needs its static key-agreement key");
    }
    c.keys = std::move(k);
  }

  if (const toml::table* t = top.table("pipeline")) {
    Section s(*t, "pipeline", file);
    Pipeline p;
    p.rules_bundle = path(s, "rules_bundle");
    p.batch_items_max = static_cast<std::uint32_t>(
        s.integer("batch_items_max", 1, limits::batch_items_max).value_or(p.batch_items_max));
    p.batch_wait_ms =
        static_cast<std::uint32_t>(s.integer("batch_wait_ms", 0, 10'000).value_or(p.batch_wait_ms));
    p.epoch_items_max =
        static_cast<std::uint64_t>(s.integer("epoch_items_max", 1, std::int64_t{1} << 32)
                                       .value_or(static_cast<std::int64_t>(p.epoch_items_max)));
    p.epoch_seconds = static_cast<std::uint32_t>(
        s.integer("epoch_seconds", 1, 7 * 86'400).value_or(p.epoch_seconds));
    p.sent_retention_seconds = static_cast<std::uint32_t>(
        s.integer("sent_retention_seconds", 60, 30 * 86'400).value_or(p.sent_retention_seconds));
    // Refused rather than ignored: no node mixes a pre-shared key into its epoch keys yet
    // (crypto/ can; neither the gateway nor the receiver passes one), so accepting the key
    // would promise a protection the deployment does not have.
    if (s.string("psk_file", false)) {
      s.fail("psk_file",
             "not supported yet: the nodes do not mix a pre-shared key into epoch keys; remove it");
    }
    // With a separate guard the guard starts epochs: these would be ignored here.
    if (root.contains("guard")) {
      for (const char* k : {"epoch_items_max", "epoch_seconds"})
        if (t->contains(k))
          s.fail(k, "the release guard rotates epoch keys: set it in the guard's [guard]");
    }
    s.finish();
    c.pipeline = std::move(p);
  }

  if (const toml::table* t = top.table("relay")) {
    Section s(*t, "relay", file);
    Relay r;
    r.freshness_seconds = static_cast<std::uint32_t>(
        s.integer("freshness_seconds", 1, 7 * 86'400).value_or(r.freshness_seconds));
    r.routes = string_list(s, "routes");
    for (const auto& route : r.routes) {
      const auto arrow = route.find("->");
      if (arrow == std::string::npos || !is_identifier(route.substr(0, arrow)) ||
          !is_identifier(route.substr(arrow + 2))) {
        s.fail("routes", "'" + route + "' is not of the form \"origin->destination\"");
      }
    }
    r.kinds = string_list(s, "kinds");
    s.finish();
    c.relay = std::move(r);
  }

  if (const toml::table* t = top.table("recovery")) {
    Section s(*t, "recovery", file);
    Recovery r;
    r.gateway = *s.string("gateway", true);
    check_listen(s, "gateway", r.gateway, c.allow_non_loopback);
    if (!r.gateway.starts_with("tcp://")) s.fail("gateway", "must be tcp://host:port");
    r.gateway_curve_public = *s.string("gateway_curve_public", true);
    if (r.gateway_curve_public.size() != 40)
      s.fail("gateway_curve_public", "must be a 40-character Z85 key");
    r.curve_secret_file = path(s, "curve_secret_file");
    r.source_id = s.string("source_id", false).value_or(c.id);
    if (!is_identifier(r.source_id)) s.fail("source_id", "must be 1-128 of [A-Za-z0-9._-]");
    r.label_policy = *s.string("label_policy", true);
    if (!is_identifier(r.label_policy)) s.fail("label_policy", "must be 1-128 of [A-Za-z0-9._-]");
    r.report_interval_ms = static_cast<std::uint32_t>(
        s.integer("report_interval_ms", 100, 600'000).value_or(r.report_interval_ms));
    r.report_after_ms = static_cast<std::uint32_t>(
        s.integer("report_after_ms", 100, 3'600'000).value_or(r.report_after_ms));
    r.rereport_after_ms = static_cast<std::uint32_t>(
        s.integer("rereport_after_ms", 100, 3'600'000).value_or(r.rereport_after_ms));
    r.give_up_seconds = static_cast<std::uint32_t>(
        s.integer("give_up_seconds", 10, 30 * 86'400).value_or(r.give_up_seconds));
    r.gossip_interval_ms = static_cast<std::uint32_t>(
        s.integer("gossip_interval_ms", 100, 3'600'000).value_or(r.gossip_interval_ms));
    s.finish();
    c.recovery = std::move(r);
  }

  std::set<std::string> link_names;
  if (const toml::array* a = top.array_of_tables("link_out")) {
    for (std::size_t i = 0; i < a->size(); ++i) {
      Section s(*a->get(i)->as_table(), "link_out[" + std::to_string(i) + "]", file);
      LinkOut l;
      read_link_common(s, l, c.role == Role::relay);
      l.peer = *s.string("peer", true);
      if (!is_host_port(l.peer)) s.fail("peer", "must be host:port");
      check_listen(s, "peer", l.peer, c.allow_non_loopback);
      l.rate_bytes_per_s = static_cast<std::uint64_t>(
          s.integer("rate_bytes_per_s", 10'000, std::int64_t{10'000'000'000})
              .value_or(static_cast<std::int64_t>(l.rate_bytes_per_s)));
      l.interleave_depth = static_cast<std::uint32_t>(
          s.integer("interleave_depth", 1, 64).value_or(l.interleave_depth));
      if (!link_names.insert(l.name).second) s.fail("name", "duplicate link name '" + l.name + "'");
      s.finish();
      c.links_out.push_back(std::move(l));
    }
  }
  if (const toml::array* a = top.array_of_tables("link_in")) {
    for (std::size_t i = 0; i < a->size(); ++i) {
      Section s(*a->get(i)->as_table(), "link_in[" + std::to_string(i) + "]", file);
      LinkIn l;
      read_link_common(s, l, c.role == Role::relay);
      l.listen = *s.string("listen", true);
      if (!is_host_port(l.listen)) s.fail("listen", "must be host:port");
      check_listen(s, "listen", l.listen, c.allow_non_loopback);
      l.rcvbuf_bytes =
          static_cast<std::uint64_t>(s.integer("rcvbuf_bytes", 65'536, std::int64_t{1} << 30)
                                         .value_or(static_cast<std::int64_t>(l.rcvbuf_bytes)));
      l.block_timeout_ms = static_cast<std::uint32_t>(
          s.integer("block_timeout_ms", 10, 600'000).value_or(l.block_timeout_ms));
      if (!link_names.insert(l.name).second) s.fail("name", "duplicate link name '" + l.name + "'");
      s.finish();
      c.links_in.push_back(std::move(l));
    }
  }
  top.finish();
  return c;
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::gateway:
      return "gateway";
    case Role::relay:
      return "relay";
    case Role::receiver:
      return "receiver";
    case Role::guard:
      return "guard";
  }
  return "?";
}

Result<NodeConfig> parse(std::string_view text, const std::string& source_name) {
  if (text.size() > config_bytes_max) {
    return malformed(source_name + ": larger than " + std::to_string(config_bytes_max) + " bytes");
  }
  return tomlread::read<NodeConfig>(
      text, source_name, [&](const toml::table& root) { return parse_table(root, source_name); });
}

Status regular_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return io_error(path + ": cannot read: " + std::strerror(errno));
  struct stat st {};
  const int rc = ::fstat(fd, &st);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return io_error(path + ": cannot read: " + std::strerror(err));
  if (S_ISREG(st.st_mode)) return {};
  const char* kind = S_ISFIFO(st.st_mode)                           ? "a FIFO"
                     : S_ISDIR(st.st_mode)                          ? "a directory"
                     : (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) ? "a device"
                     : S_ISSOCK(st.st_mode)                         ? "a socket"
                                                                    : "a special file";
  return io_error(path + ": not a regular file (" + kind + ")");
}

Status check_files(const NodeConfig& c) {
  auto check = [&](const char* key, const std::string& path) -> Status {
    if (path.empty()) return {};
    Status s = regular_file(path);
    return s.ok() ? s : s.with_context(c.source_file + ": " + key);
  };
  if (c.keys) {
    CG_RETURN_IF_ERROR(check("keys.signing_key", c.keys->signing_key));
    CG_RETURN_IF_ERROR(check("keys.agreement_key", c.keys->agreement_key));
    CG_RETURN_IF_ERROR(check("keys.passphrase_file", c.keys->passphrase_file));
    CG_RETURN_IF_ERROR(check("keys.trust_root", c.keys->trust_root));
  }
  if (c.ingest) CG_RETURN_IF_ERROR(check("ingest.curve_secret_file", c.ingest->curve_secret_file));
  if (c.deliver) {
    CG_RETURN_IF_ERROR(check("deliver.curve_secret_file", c.deliver->curve_secret_file));
  }
  if (c.recovery) {
    CG_RETURN_IF_ERROR(check("recovery.curve_secret_file", c.recovery->curve_secret_file));
  }
  if (c.pipeline) CG_RETURN_IF_ERROR(check("pipeline.rules_bundle", c.pipeline->rules_bundle));
  if (c.guard) CG_RETURN_IF_ERROR(check("guard.curve_secret_file", c.guard->curve_secret_file));
  if (c.guard_service) {
    CG_RETURN_IF_ERROR(check("guard.curve_secret_file", c.guard_service->curve_secret_file));
  }
  for (const auto& l : c.links_out) CG_RETURN_IF_ERROR(check("link_out.key_file", l.key_file));
  for (const auto& l : c.links_in) CG_RETURN_IF_ERROR(check("link_in.key_file", l.key_file));
  return {};
}

Result<NodeConfig> load(const std::string& path) {
  CG_RETURN_IF_ERROR(regular_file(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path + ": cannot read");
  std::string text;
  text.resize(config_bytes_max + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse(text, path);
}

}  // namespace cg::config
