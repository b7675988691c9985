// A loopback deployment of the cell, written the way an operator lays one out (deploy.h).
#include "bench/lab/deploy/deploy.h"

#include <arpa/inet.h>
#include <capnp/message.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <random>
#include <set>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/common/limits.h"
#include "gateway/common/mutex.h"
#include "gateway/wire/wire.h"

namespace cg::deploy {
namespace {

constexpr std::int64_t day_ns = 86'400LL * 1'000'000'000;
constexpr std::int64_t valid_ns = 30 * day_ns;  // trust root and rules bundle
constexpr std::uint32_t link_id_il_us = 1;
constexpr std::uint32_t link_id_us_sy = 2;
constexpr std::uint32_t link_id_sy_us = 3;
constexpr std::uint32_t link_id_us_il = 4;
constexpr std::size_t passphrase_bytes = 32;  // random bytes, written as hex
constexpr std::uint64_t rcvbuf_bytes = 8u << 20;

const char* const gateway_id = "il-gw-1";
const char* const relay_id = "us-relay";
const char* const receiver_id = "sy-rx-1";
const char* const sy_gateway_id = "sy-gw-1";
const char* const il_receiver_id = "il-rx-1";
const char* const reviewer_names[] = {"alice", "bob", "carol"};
const char* const sy_reviewer_names[] = {"dana", "erin", "farid"};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

crypto::Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Status write_text(const std::string& path, std::string_view text, unsigned mode) {
  return crypto::write_file(path, as_bytes(text), mode);
}

Status make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return io_error(path + ": " + std::strerror(errno));
  }
  if (::chmod(path.c_str(), mode) != 0) return io_error(path + ": " + std::strerror(errno));
  return {};
}

// The deployment directory: created (with its parents) when missing, refused when not empty.
Status prepare_dir(const std::string& dir) {
  std::error_code ec;
  const auto st = std::filesystem::status(dir, ec);
  if (std::filesystem::exists(st)) {
    if (!std::filesystem::is_directory(st))
      return rejected(dir + ": exists and is not a directory");
    if (!std::filesystem::is_empty(dir, ec) || ec) {
      return rejected(dir + ": not empty; a deployment is written into an empty directory");
    }
    return make_dir(dir, 0700);
  }
  const auto parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec) return io_error(parent.string() + ": " + ec.message());
  }
  return make_dir(dir, 0700);
}

// Loopback ports for deployments. Two hazards made the kernel's choice (bind to port 0) unsafe
// when tests run in parallel: the port is free only until the socket closes, and it lies in the
// ephemeral range, from which every outgoing TCP connection of every process (ZeroMQ clients,
// metrics scrapes) takes its source port. So ports are picked below the ephemeral range
// (ip_local_port_range), and each is reserved across processes by an flock on
// <tmp>/cellgate-ports/<port>, held by this process (at most reservations_max at once, the
// oldest released first) so that no other deployment on the machine picks it meanwhile. A port
// is taken only when both a TCP and a UDP socket can bind it. Where the range below the
// ephemeral ports is too small, the kernel's choice is used as before.
class PortReservations final {
 public:
  static PortReservations& instance() {
    static PortReservations* r = new PortReservations();  // lives as long as the process
    return *r;
  }

  Result<std::uint16_t> pick(int kind) CG_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (hi_ <= lo_ + min_span) return kernel_choice(kind);
    const unsigned span = hi_ - lo_;
    for (unsigned i = 0; i < span; ++i) {
      const auto port = static_cast<std::uint16_t>(lo_ + (next_++ % span));
      if (held_set_.count(port) != 0) continue;
      const int lock_fd = try_lock(port);
      if (lock_fd < 0) continue;
      if (!bindable(port, SOCK_STREAM) || !bindable(port, SOCK_DGRAM)) {
        ::close(lock_fd);
        continue;
      }
      held_.push_back({port, lock_fd});
      held_set_.insert(port);
      if (held_.size() > reservations_max) {
        ::close(held_.front().second);
        held_set_.erase(held_.front().first);
        held_.pop_front();
      }
      return port;
    }
    return io_error("free port: every port in " + std::to_string(lo_) + ".." +
                    std::to_string(hi_ - 1) + " is in use or reserved");
  }

 private:
  static constexpr unsigned reservations_max = 512;
  static constexpr unsigned min_span = 2000;
  static constexpr unsigned range_floor = 10000;

  PortReservations() {
    unsigned low = 0, high = 0;
    if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
      if (std::fscanf(f, "%u %u", &low, &high) != 2) low = 0;
      std::fclose(f);
    }
    lo_ = range_floor;
    hi_ = low > range_floor ? low : range_floor;
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/cellgate-ports";
    if (::mkdir(dir_.c_str(), 01777) == 0) ::chmod(dir_.c_str(), 01777);
    MutexLock lock(mu_);
    next_ = std::random_device{}();
  }

  int try_lock(std::uint16_t port) const {
    const std::string path = dir_ + "/" + std::to_string(port);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) return -1;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  static bool bindable(std::uint16_t port, int kind) {
    const int fd = ::socket(AF_INET, kind | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  static Result<std::uint16_t> kernel_choice(int kind) {
    const int fd = ::socket(AF_INET, kind | SOCK_CLOEXEC, 0);
    if (fd < 0) return io_error(std::string("free port: socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) return io_error(std::string("free port: bind 127.0.0.1:0: ") + std::strerror(err));
    return ntohs(addr.sin_port);
  }

  Mutex mu_;
  unsigned lo_ = 0, hi_ = 0;  // set once by the constructor
  std::string dir_;
  unsigned next_ CG_GUARDED_BY(mu_) = 0;
  std::deque<std::pair<std::uint16_t, int>> held_ CG_GUARDED_BY(mu_);  // port, lock fd
  std::set<std::uint16_t> held_set_ CG_GUARDED_BY(mu_);
};

// One create()'s ports: never the same port twice (the reservations see to it).
class PortPicker final {
 public:
  Result<std::uint16_t> pick(int kind) { return PortReservations::instance().pick(kind); }
};

approval::SignFn signer(const crypto::SigningKey& key, const crypto::Suite& suite) {
  return [&key, &suite](crypto::Bytes m) -> Result<std::vector<std::uint8_t>> {
    std::vector<std::uint8_t> sig(suite.signature_bytes());
    CG_RETURN_IF_ERROR(key.sign(m, sig));
    return sig;
  };
}

// A random passphrase as one line of hex, written to `path` (0600). The returned secret is the
// line without its newline, as crypto::read_passphrase_file reads it back.
Result<crypto::Secret> write_passphrase(const std::string& path) {
  static constexpr char digits[] = "0123456789abcdef";
  const crypto::Secret raw = crypto::Secret::random(passphrase_bytes);
  crypto::Secret line(2 * passphrase_bytes + 1);
  for (std::size_t i = 0; i < passphrase_bytes; ++i) {
    line.bytes()[2 * i] = static_cast<std::uint8_t>(digits[raw.bytes()[i] >> 4]);
    line.bytes()[2 * i + 1] = static_cast<std::uint8_t>(digits[raw.bytes()[i] & 0xf]);
  }
  line.bytes()[2 * passphrase_bytes] = '\n';
  CG_RETURN_IF_ERROR(crypto::write_file(path, line.bytes(), 0600));
  return crypto::Secret::copy_of(line.bytes().first(2 * passphrase_bytes));
}

// `<base>` (the private key file, 0600) and `<base>.pub`.
Status write_signing_key(const std::string& base, const crypto::SigningKey& key,
                         const crypto::Secret* passphrase) {
  CG_ASSIGN_OR_RETURN(auto file, crypto::encode_private_key(key.suite(), crypto::KeyKind::signing,
                                                            key.public_key(), key.private_bytes(),
                                                            passphrase, passphrase == nullptr));
  Status s = crypto::write_file(base, file, 0600);
  std::fill(file.begin(), file.end(), std::uint8_t{0});
  CG_RETURN_IF_ERROR(s);
  return write_text(
      base + ".pub",
      crypto::encode_public_key(key.suite(), crypto::KeyKind::signing, key.public_key()), 0644);
}

Result<std::vector<std::uint8_t>> public_key_of(const std::string& path) {
  CG_ASSIGN_OR_RETURN(auto pub, crypto::read_public_key_file(path));
  return std::move(pub.public_key);
}

struct NodeSpec {
  const char* id;
  const char* party;
  schema::Role role;
  const crypto::NodeKeyPaths* keys;
};

struct Reviewers {
  const char* party;
  const char* const* names;  // three
  const std::vector<std::unique_ptr<crypto::SigningKey>>* keys;
};

// The trust root: each party with its three reviewers (threshold 2), the nodes with their
// signing and agreement keys, one root key (threshold 1) that signs it.
Result<std::vector<std::uint8_t>> trust_root(const crypto::Suite& suite,
                                             std::span<const Reviewers> parties,
                                             const crypto::SigningKey& root_key,
                                             std::span<const NodeSpec> nodes, std::int64_t now) {
  capnp::MallocMessageBuilder mb;
  auto body = mb.initRoot<schema::TrustRoot>().initBody();
  body.setVersion(1);
  body.setExpires(now + valid_ns);
  auto out_parties = body.initParties(static_cast<unsigned>(parties.size()));
  for (unsigned p = 0; p < parties.size(); ++p) {
    auto party = out_parties[p];
    party.setId(parties[p].party);
    party.setReviewerThreshold(2);
    const auto& keys = *parties[p].keys;
    auto revs = party.initReviewers(static_cast<unsigned>(keys.size()));
    for (unsigned i = 0; i < keys.size(); ++i) {
      approval::fill_public_key(revs[i], suite.id(), keys[i]->public_key(),
                                std::string(parties[p].party) + "/" + parties[p].names[i]);
    }
  }
  auto out = body.initNodes(static_cast<unsigned>(nodes.size()));
  for (unsigned i = 0; i < nodes.size(); ++i) {
    const NodeSpec& n = nodes[i];
    out[i].setId(n.id);
    out[i].setParty(n.party);
    out[i].setRole(n.role);
    CG_ASSIGN_OR_RETURN(auto sign_pub, public_key_of(n.keys->signing_public));
    CG_ASSIGN_OR_RETURN(auto kx_pub, public_key_of(n.keys->agreement_public));
    approval::fill_public_key(out[i].initSigningKey(), suite.id(), sign_pub, n.id);
    approval::fill_public_key(out[i].initAgreementKey(), suite.id(), kx_pub, n.id);
  }
  approval::fill_public_key(body.initRootKeys(1)[0], suite.id(), root_key.public_key(), "root/1");
  body.setRootThreshold(1);
  CG_ASSIGN_OR_RETURN(
      auto signed_root,
      approval::add_root_signature(
          wire::canonical(mb.getRoot<schema::TrustRoot>().asReader()).root(),
          crypto::key_id(suite.id(), root_key.public_key()), signer(root_key, suite)));
  return wire::to_flat_bytes(signed_root);
}

// Version 1 of a party's rules bundle, valid from a second ago for 30 days, approved by its
// first and third reviewers.
Result<std::vector<std::uint8_t>> rules_bundle(
    const crypto::Suite& suite, std::string_view party,
    const std::vector<std::unique_ptr<crypto::SigningKey>>& reviewers, std::string_view policy,
    std::int64_t now) {
  const approval::SuiteVerifier verifier(suite);
  CG_ASSIGN_OR_RETURN(auto bundle, approval::propose(party, policy, nullptr, now - 1'000'000'000,
                                                     now + valid_ns, verifier));
  for (std::size_t i : {std::size_t{0}, std::size_t{2}}) {
    const crypto::SigningKey& k = *reviewers[i];
    CG_ASSIGN_OR_RETURN(
        bundle, approval::add_signature(bundle.root(), crypto::key_id(suite.id(), k.public_key()),
                                        signer(k, suite)));
  }
  return wire::to_flat_bytes(bundle);
}

std::string curve_line(const std::string& z85) { return z85 + "\n"; }

std::string loopback(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// [node], [metrics] and [keys]: every role. Paths are relative to config/.
std::string common_toml(const char* id, const char* party, const char* role,
                        std::uint16_t metrics_port, bool agreement, const Options& o,
                        const char* signing_key_of = nullptr, bool signs = true) {
  const bool encrypted = o.encrypt_keys;
  std::string t;
  t += "[node]\n";
  t += "id = \"" + std::string(id) + "\"\n";
  t += "party = \"" + std::string(party) + "\"\n";
  t += "role = \"" + std::string(role) + "\"\n";
  t += "store = \"../state/" + std::string(id) + "\"\n";
  t += "store_bytes_max = " + std::to_string(o.store_bytes_max) + "\n\n";
  t += "[metrics]\n";
  t += "listen = \"" + loopback(metrics_port) + "\"\n\n";
  t += "[keys]\n";
  if (signs)
    t += "signing_key = \"../keys/" + std::string(signing_key_of ? signing_key_of : id) +
         ".sign\"\n";
  if (agreement) t += "agreement_key = \"../keys/" + std::string(id) + ".kx\"\n";
  if (encrypted) t += "passphrase_file = \"../keys/passphrase\"\n";
  t += "trust_root = \"../trust/root.bin\"\n\n";
  return t;
}

// One link: its name, the party it reaches (relay) or comes from, id, key file and port.
struct LinkSpec {
  const char* name;
  const char* party;
  std::uint32_t link_id;
  const char* key_file;
  std::uint16_t port;
};

std::string link_out_toml(const LinkSpec& l, std::uint16_t peer_port,
                          std::uint64_t rate_bytes_per_s) {
  std::string t = "[[link_out]]\n";
  t += "name = \"" + std::string(l.name) + "\"\n";
  t += "party = \"" + std::string(l.party) + "\"\n";
  t += "link_id = " + std::to_string(l.link_id) + "\n";
  t += "key_file = \"../keys/" + std::string(l.key_file) + "\"\n";
  t += "peer = \"" + loopback(peer_port) + "\"\n";
  t += "rate_bytes_per_s = " + std::to_string(rate_bytes_per_s) + "\n\n";
  return t;
}

std::string link_in_toml(const LinkSpec& l) {
  std::string t = "[[link_in]]\n";
  t += "name = \"" + std::string(l.name) + "\"\n";
  t += "party = \"" + std::string(l.party) + "\"\n";
  t += "link_id = " + std::to_string(l.link_id) + "\n";
  t += "key_file = \"../keys/" + std::string(l.key_file) + "\"\n";
  t += "listen = \"" + loopback(l.port) + "\"\n";
  t += "rcvbuf_bytes = " + std::to_string(rcvbuf_bytes) + "\n\n";
  return t;
}

struct Peer {
  std::string id, curve_public;
};

struct GatewaySpec {
  const char* id;
  const char* party;
  const char* counterpart;  // the party it sends to
  std::uint16_t metrics_port, ingest_port;
  std::vector<Peer> sources;
  LinkSpec link;  // to the relay
  std::uint16_t peer_port;
  // A separate guard: its id, port, metrics port and CURVE public key; the filter's public key.
  const char* guard_id = nullptr;
  std::uint16_t guard_port = 0, guard_metrics_port = 0;
  std::string guard_curve_public, filter_curve_public;
};

std::string guard_toml(const Options& o, const GatewaySpec& g) {
  std::string t = "# " + std::string(g.party) + "'s release guard: the only holder of " + g.id +
                  "'s signing key. It checks every\n# release " + g.id +
                  " hands it on its own, then seals and signs it.\n";
  t += common_toml(g.guard_id, g.party, "guard", g.guard_metrics_port, false, o, g.id);
  t += "[guard]\n";
  t += "listen = \"tcp://" + loopback(g.guard_port) + "\"\n";
  t += "curve_secret_file = \"../keys/" + std::string(g.guard_id) + ".curve\"\n";
  t += "filter_curve_public = \"" + g.filter_curve_public + "\"\n";
  t += "gateway = \"" + std::string(g.id) + "\"\n\n";
  return t;
}

std::string gateway_toml(const Options& o, const GatewaySpec& g) {
  std::string t = "# " + std::string(g.party) + "'s gateway: judges " + g.party +
                  "'s items under the approved rules bundle and sends\n# what is releasable to " +
                  g.counterpart + " through the relay.\n";
  t += common_toml(g.id, g.party, "gateway", g.metrics_port, false, o, nullptr, !g.guard_id);
  if (g.guard_id) {
    t += "# No signing key here: " + std::string(g.guard_id) + " alone holds it.\n";
    t += "[guard]\n";
    t += "endpoint = \"tcp://" + loopback(g.guard_port) + "\"\n";
    t += "curve_public = \"" + g.guard_curve_public + "\"\n";
    t += "curve_secret_file = \"../keys/" + std::string(g.id) + ".filter.curve\"\n\n";
  }
  t += "[pipeline]\n";
  t += "rules_bundle = \"../rules/" + std::string(g.party) + ".bundle\"\n";
  t += "batch_items_max = " + std::to_string(o.pipeline_batch_items_max) + "\n\n";
  t += "[ingest]\n";
  t += "listen = \"tcp://" + loopback(g.ingest_port) + "\"\n";
  t += "curve_secret_file = \"../keys/" + std::string(g.id) + ".curve\"\n";
  t += "inbox_items_max = " + std::to_string(o.ingest_inbox_items_max) + "\n\n";
  for (const auto& src : g.sources) {
    t += "[[ingest.source]]\n";
    t += "id = \"" + src.id + "\"\n";
    t += "curve_public = \"" + src.curve_public + "\"\n\n";
  }
  t += link_out_toml(g.link, g.peer_port, o.link_rate_bytes_per_s);
  return t;
}

std::string relay_toml(const Options& o, std::uint16_t metrics_port, std::span<const LinkSpec> ins,
                       std::span<const std::pair<LinkSpec, std::uint16_t>> outs) {
  std::string t =
      o.both_directions
          ? "# The supervisor's relay: verifies, logs and countersigns each party's\n"
            "# envelopes and forwards them to the other.\n"
          : "# The supervisor's relay: verifies, logs and countersigns il's envelopes and\n"
            "# forwards them to sy.\n";
  t += common_toml(relay_id, "us", "relay", metrics_port, true, o);
  t += "[relay]\n";
  t += o.both_directions ? "routes = [\"il->sy\", \"sy->il\"]\n\n" : "routes = [\"il->sy\"]\n\n";
  for (const auto& l : ins) t += link_in_toml(l);
  for (const auto& [l, peer] : outs) t += link_out_toml(l, peer, o.link_rate_bytes_per_s);
  return t;
}

struct ReceiverSpec {
  const char* id;
  const char* party;
  const char* counterpart;
  std::uint16_t metrics_port, deliver_port;
  LinkSpec link;  // from the relay
  Peer consumer;
  // [recovery]: this party's gateway.
  std::optional<std::pair<std::string, std::string>> gateway;  // endpoint, CURVE public
};

std::string receiver_toml(const Options& o, const ReceiverSpec& r) {
  std::string t = "# " + std::string(r.party) + "'s receiver: checks the relay's proof and " +
                  r.counterpart + "'s signatures, opens and hands\n# items to " + r.party +
                  "'s consumers.\n";
  t += common_toml(r.id, r.party, "receiver", r.metrics_port, true, o);
  t += link_in_toml(r.link);
  t += "[deliver]\n";
  t += "listen = \"tcp://" + loopback(r.deliver_port) + "\"\n";
  t += "curve_secret_file = \"../keys/" + std::string(r.id) + ".curve\"\n\n";
  t += "[[deliver.consumer]]\n";
  t += "id = \"" + r.consumer.id + "\"\n";
  t += "curve_public = \"" + r.consumer.curve_public + "\"\n\n";
  if (r.gateway) {
    t += "# Gap reports and tree heads go out through " + std::string(r.party) +
         "'s own gateway, of which this receiver is a source.\n";
    t += "[recovery]\n";
    t += "gateway = \"" + r.gateway->first + "\"\n";
    t += "gateway_curve_public = \"" + r.gateway->second + "\"\n";
    t += "curve_secret_file = \"../keys/" + std::string(r.id) + ".curve\"\n";
    t += "label_policy = \"cell-2026\"\n";
    t += "report_after_ms = " + std::to_string(o.report_after_ms) + "\n";
    t += "rereport_after_ms = " + std::to_string(o.rereport_after_ms) + "\n";
    t += "gossip_interval_ms = " + std::to_string(o.gossip_interval_ms) + "\n";
  }
  return t;
}

std::string readme(const Options& o, const Deployment& d) {
  std::string t =
      o.both_directions
          ? "A loopback deployment of the cell, both directions:\n"
            "  il-gw-1 (gateway, il) -> us-relay (relay, us) -> sy-rx-1 (receiver, sy)\n"
            "  sy-gw-1 (gateway, sy) -> us-relay            -> il-rx-1 (receiver, il)\n"
            "Each receiver is a source of its own party's gateway (gap reports, tree heads).\n"
            "Run each node with\n"
            "  cellgate run --config config/<node>.toml\n\n"
          : "A loopback deployment of the cell: il-gw-1 (gateway, il) -> us-relay (relay, us)\n"
            "-> sy-rx-1 (receiver, sy). Run each node with\n"
            "  cellgate run --config config/<node>.toml\n\n";
  t += "config/     the node configs (paths in them are relative to config/)\n";
  t += "keys/       node keys (<node>.sign, <node>.kx, .pub beside them), link MAC keys\n";
  t += o.both_directions
           ? "            (il-us.link, us-sy.link, sy-us.link, us-il.link), CURVE secret keys\n"
             "            (<id>.curve, one Z85 line) for gateways, receivers, sources and "
             "consumers\n"
           : "            (il-us.link, us-sy.link), CURVE secret keys (<id>.curve, one Z85 line)\n"
             "            for the gateway, the receiver, source il-src-1 and consumer "
             "sy-consumer-1\n";
  if (o.encrypt_keys) t += "            passphrase: seals every private key file (keep it 0600)\n";
  t += "keys/root/  the root key that signed trust/root.bin (keep offline in a real cell)\n";
  t += "keys/reviewers/  reviewers' signing keys (their own workstations in a real cell):\n";
  t += "            il/alice, il/bob, il/carol (alice and carol approved rules/il.bundle)\n";
  if (o.both_directions)
    t += "            sy/dana, sy/erin, sy/farid (dana and farid approved rules/sy.bundle)\n";
  t += "trust/root.bin      the trust root, valid 30 days\n";
  t += "rules/il.bundle     il's rules bundle v1 (rules/il-policy.toml), valid 30 days\n";
  if (o.both_directions)
    t += "rules/sy.bundle     sy's rules bundle v1 (rules/sy-policy.toml), valid 30 days\n";
  t += "state/<node>/       the nodes' stores\n\n";
  t += "ingest:  " + d.ingest_endpoint + "  il-gw-1 CURVE key " + d.gateway_curve_public + "\n";
  t += "deliver: " + d.deliver_endpoint + "  sy-rx-1 CURVE key " + d.receiver_curve_public + "\n";
  if (d.reverse) {
    t += "ingest:  " + d.reverse->ingest_endpoint + "  sy-gw-1 CURVE key " +
         d.reverse->gateway_curve_public + "\n";
    t += "deliver: " + d.reverse->deliver_endpoint + "  il-rx-1 CURVE key " +
         d.reverse->receiver_curve_public + "\n";
  }
  t += "metrics: 127.0.0.1:" + std::to_string(d.gateway_metrics_port) +
       " (il-gw-1), :" + std::to_string(d.relay_metrics_port) +
       " (us-relay), :" + std::to_string(d.receiver_metrics_port) + " (sy-rx-1)";
  if (d.reverse) {
    t += ", :" + std::to_string(d.reverse->gateway_metrics_port) +
         " (sy-gw-1), :" + std::to_string(d.reverse->receiver_metrics_port) + " (il-rx-1)";
  }
  t += "\n";
  return t;
}

Status write_link_key(const std::string& path) {
  const crypto::Secret key = crypto::Secret::random(32);
  auto file = crypto::encode_link_key(key);
  Status s = crypto::write_file(path, file, 0600);
  std::fill(file.begin(), file.end(), std::uint8_t{0});
  return s;
}

Result<std::string> read_policy(const std::string& path) {
  CG_ASSIGN_OR_RETURN(auto bytes, crypto::read_file(path, limits::policy_bytes_max));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

Result<std::uint16_t> free_port(int kind) {
  PortPicker picker;
  return picker.pick(kind);
}

Result<Deployment> create(const Options& o) {
  CG_ASSIGN_OR_RETURN(const crypto::Suite* suite, crypto::suite(o.suite));
  CG_ASSIGN_OR_RETURN(const std::string policy, read_policy(o.policy_file));
  std::string sy_policy;
  if (o.both_directions) {
    if (o.sy_policy_file.empty()) return malformed("deploy: both directions need sy_policy_file");
    CG_ASSIGN_OR_RETURN(sy_policy, read_policy(o.sy_policy_file));
  }
  CG_RETURN_IF_ERROR(prepare_dir(o.dir));
  Deployment d;
  d.dir = std::filesystem::absolute(o.dir).lexically_normal().string();
  const std::string keys = d.dir + "/keys";
  const struct {
    const char* path;
    mode_t mode;
  } subdirs[] = {{"keys", 0700},  {"keys/root", 0700}, {"keys/reviewers", 0700}, {"trust", 0755},
                 {"rules", 0755}, {"config", 0755},    {"state", 0700}};
  for (const auto& sub : subdirs) CG_RETURN_IF_ERROR(make_dir(d.dir + "/" + sub.path, sub.mode));

  std::optional<crypto::Secret> pass;
  if (o.encrypt_keys) {
    CG_ASSIGN_OR_RETURN(pass, write_passphrase(keys + "/passphrase"));
  }
  const crypto::Secret* pp = pass ? &*pass : nullptr;
  const bool both = o.both_directions;

  // Keys: nodes, reviewers, root, links, CURVE.
  std::vector<const char*> ids = {gateway_id, relay_id, receiver_id};
  if (both) ids.insert(ids.end(), {sy_gateway_id, il_receiver_id});
  std::vector<crypto::NodeKeyPaths> node_keys(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CG_ASSIGN_OR_RETURN(node_keys[i], crypto::write_node_keys(keys, ids[i], o.suite, pp, !pp));
  }
  std::vector<std::unique_ptr<crypto::SigningKey>> reviewers, sy_reviewers;
  for (const char* name : reviewer_names) {
    reviewers.push_back(suite->generate_signing_key());
    d.reviewer_key_files.push_back(keys + "/reviewers/il-" + name + ".sign");
    CG_RETURN_IF_ERROR(write_signing_key(d.reviewer_key_files.back(), *reviewers.back(), pp));
  }
  std::vector<std::string> sy_reviewer_files;
  if (both) {
    for (const char* name : sy_reviewer_names) {
      sy_reviewers.push_back(suite->generate_signing_key());
      sy_reviewer_files.push_back(keys + "/reviewers/sy-" + name + ".sign");
      CG_RETURN_IF_ERROR(write_signing_key(sy_reviewer_files.back(), *sy_reviewers.back(), pp));
    }
  }
  const auto root_key = suite->generate_signing_key();
  CG_RETURN_IF_ERROR(write_signing_key(keys + "/root/root-1.sign", *root_key, pp));
  for (const char* link : {"il-us", "us-sy", "sy-us", "us-il"}) {
    if (!both && (std::string_view(link) == "sy-us" || std::string_view(link) == "us-il")) continue;
    CG_RETURN_IF_ERROR(write_link_key(keys + "/" + link + ".link"));
  }
  const ingest::KeyPair gateway_curve = ingest::curve_keypair();
  const ingest::KeyPair receiver_curve = ingest::curve_keypair();
  d.source_id = "il-src-1";
  d.source = ingest::curve_keypair();
  d.consumer_id = "sy-consumer-1";
  d.consumer = ingest::curve_keypair();
  d.gateway_curve_public = gateway_curve.public_z85;
  d.receiver_curve_public = receiver_curve.public_z85;
  std::vector<std::pair<std::string, const ingest::KeyPair*>> curves = {
      {gateway_id, &gateway_curve},
      {receiver_id, &receiver_curve},
      {d.source_id, &d.source},
      {d.consumer_id, &d.consumer}};
  ingest::KeyPair sy_gateway_curve, il_receiver_curve;
  if (both) {
    auto& r = d.reverse.emplace();
    sy_gateway_curve = ingest::curve_keypair();
    il_receiver_curve = ingest::curve_keypair();
    r.source_id = "sy-src-1";
    r.source = ingest::curve_keypair();
    r.consumer_id = "il-consumer-1";
    r.consumer = ingest::curve_keypair();
    r.gateway_curve_public = sy_gateway_curve.public_z85;
    r.receiver_curve_public = il_receiver_curve.public_z85;
    r.reviewer_key_files = sy_reviewer_files;
    curves.push_back({sy_gateway_id, &sy_gateway_curve});
    curves.push_back({il_receiver_id, &il_receiver_curve});
    curves.push_back({r.source_id, &r.source});
    curves.push_back({r.consumer_id, &r.consumer});
  }
  // A separate guard: its own CURVE key, and the filter's as its client.
  std::map<std::string, ingest::KeyPair> guard_curves;
  if (o.separate_guard) {
    for (const char* id : {"il-guard-1", "il-gw-1.filter", "sy-guard-1", "sy-gw-1.filter"}) {
      if (!both && id[0] == 's') continue;
      guard_curves[id] = ingest::curve_keypair();
    }
    for (auto& [id, pair] : guard_curves) curves.push_back({id, &pair});
  }
  for (const auto& [id, pair] : curves) {
    const std::string base = keys + "/" + id + ".curve";
    CG_RETURN_IF_ERROR(write_text(base, curve_line(pair->secret_z85), 0600));
    CG_RETURN_IF_ERROR(write_text(base + ".pub", curve_line(pair->public_z85), 0644));
  }

  // Trust root and rules bundles.
  const std::int64_t now = now_ns();
  std::vector<NodeSpec> nodes = {{gateway_id, "il", schema::Role::GATEWAY, &node_keys[0]},
                                 {relay_id, "us", schema::Role::RELAY, &node_keys[1]},
                                 {receiver_id, "sy", schema::Role::RECEIVER, &node_keys[2]}};
  std::vector<Reviewers> parties = {{"il", reviewer_names, &reviewers}};
  if (both) {
    nodes.push_back({sy_gateway_id, "sy", schema::Role::GATEWAY, &node_keys[3]});
    nodes.push_back({il_receiver_id, "il", schema::Role::RECEIVER, &node_keys[4]});
    parties.push_back({"sy", sy_reviewer_names, &sy_reviewers});
  }
  CG_ASSIGN_OR_RETURN(auto root, trust_root(*suite, parties, *root_key, nodes, now));
  d.trust_root_file = d.dir + "/trust/root.bin";
  CG_RETURN_IF_ERROR(crypto::write_file(d.trust_root_file, root, 0644));
  CG_ASSIGN_OR_RETURN(auto bundle, rules_bundle(*suite, "il", reviewers, policy, now));
  d.rules_bundle_file = d.dir + "/rules/il.bundle";
  CG_RETURN_IF_ERROR(crypto::write_file(d.rules_bundle_file, bundle, 0644));
  d.policy_file = d.dir + "/rules/il-policy.toml";
  CG_RETURN_IF_ERROR(write_text(d.policy_file, policy, 0644));
  if (both) {
    CG_ASSIGN_OR_RETURN(auto sy_bundle, rules_bundle(*suite, "sy", sy_reviewers, sy_policy, now));
    d.reverse->rules_bundle_file = d.dir + "/rules/sy.bundle";
    CG_RETURN_IF_ERROR(crypto::write_file(d.reverse->rules_bundle_file, sy_bundle, 0644));
    d.reverse->policy_file = d.dir + "/rules/sy-policy.toml";
    CG_RETURN_IF_ERROR(write_text(d.reverse->policy_file, sy_policy, 0644));
  }

  // Ports, then the configs that name them.
  PortPicker ports;
  CG_ASSIGN_OR_RETURN(const std::uint16_t ingest_port, ports.pick(SOCK_STREAM));
  CG_ASSIGN_OR_RETURN(const std::uint16_t deliver_port, ports.pick(SOCK_STREAM));
  CG_ASSIGN_OR_RETURN(d.gateway_metrics_port, ports.pick(SOCK_STREAM));
  CG_ASSIGN_OR_RETURN(d.relay_metrics_port, ports.pick(SOCK_STREAM));
  CG_ASSIGN_OR_RETURN(d.receiver_metrics_port, ports.pick(SOCK_STREAM));
  CG_ASSIGN_OR_RETURN(d.relay_link_in_port, ports.pick(SOCK_DGRAM));
  CG_ASSIGN_OR_RETURN(d.receiver_link_in_port, ports.pick(SOCK_DGRAM));
  d.ingest_endpoint = "tcp://" + loopback(ingest_port);
  d.deliver_endpoint = "tcp://" + loopback(deliver_port);
  std::uint16_t sy_ingest_port = 0, il_deliver_port = 0;
  std::uint16_t il_guard_port = 0, sy_guard_port = 0;
  if (o.separate_guard) {
    CG_ASSIGN_OR_RETURN(il_guard_port, ports.pick(SOCK_STREAM));
    CG_ASSIGN_OR_RETURN(d.guard_metrics_port, ports.pick(SOCK_STREAM));
    if (both) {
      CG_ASSIGN_OR_RETURN(sy_guard_port, ports.pick(SOCK_STREAM));
      CG_ASSIGN_OR_RETURN(d.reverse->guard_metrics_port, ports.pick(SOCK_STREAM));
    }
  }
  if (both) {
    auto& r = *d.reverse;
    CG_ASSIGN_OR_RETURN(sy_ingest_port, ports.pick(SOCK_STREAM));
    CG_ASSIGN_OR_RETURN(il_deliver_port, ports.pick(SOCK_STREAM));
    CG_ASSIGN_OR_RETURN(r.gateway_metrics_port, ports.pick(SOCK_STREAM));
    CG_ASSIGN_OR_RETURN(r.receiver_metrics_port, ports.pick(SOCK_STREAM));
    CG_ASSIGN_OR_RETURN(r.relay_link_in_port, ports.pick(SOCK_DGRAM));
    CG_ASSIGN_OR_RETURN(r.receiver_link_in_port, ports.pick(SOCK_DGRAM));
    r.ingest_endpoint = "tcp://" + loopback(sy_ingest_port);
    r.deliver_endpoint = "tcp://" + loopback(il_deliver_port);
  }
  auto peer = [&](const char* link, std::uint16_t port) {
    const auto it = o.link_peer_ports.find(link);
    return it == o.link_peer_ports.end() ? port : it->second;
  };
  const LinkSpec il_us_in{"from-il", "il", link_id_il_us, "il-us.link", d.relay_link_in_port};
  const LinkSpec us_sy{"to-sy", "sy", link_id_us_sy, "us-sy.link", d.receiver_link_in_port};
  LinkSpec sy_us_in{}, us_il{};

  GatewaySpec gw{gateway_id,
                 "il",
                 "sy",
                 d.gateway_metrics_port,
                 ingest_port,
                 {{d.source_id, d.source.public_z85}},
                 {"to-us", "us", link_id_il_us, "il-us.link", 0},
                 o.gateway_link_peer_port.value_or(peer("il-us", d.relay_link_in_port))};
  if (o.separate_guard) {
    gw.guard_id = "il-guard-1";
    gw.guard_port = il_guard_port;
    gw.guard_metrics_port = d.guard_metrics_port;
    gw.guard_curve_public = guard_curves["il-guard-1"].public_z85;
    gw.filter_curve_public = guard_curves["il-gw-1.filter"].public_z85;
  }
  ReceiverSpec rx{receiver_id,
                  "sy",
                  "il",
                  d.receiver_metrics_port,
                  deliver_port,
                  {"from-us", "us", link_id_us_sy, "us-sy.link", d.receiver_link_in_port},
                  {d.consumer_id, d.consumer.public_z85},
                  std::nullopt};
  std::vector<LinkSpec> relay_in = {il_us_in};
  std::vector<std::pair<LinkSpec, std::uint16_t>> relay_out = {
      {us_sy, peer("us-sy", d.receiver_link_in_port)}};
  if (both) {
    auto& r = *d.reverse;
    sy_us_in = {"from-sy", "sy", link_id_sy_us, "sy-us.link", r.relay_link_in_port};
    us_il = {"to-il", "il", link_id_us_il, "us-il.link", r.receiver_link_in_port};
    relay_in.push_back(sy_us_in);
    relay_out.push_back({us_il, peer("us-il", r.receiver_link_in_port)});
    gw.sources.push_back({il_receiver_id, il_receiver_curve.public_z85});
    rx.gateway = {{r.ingest_endpoint, sy_gateway_curve.public_z85}};
  }

  d.gateway_config = d.dir + "/config/il-gw-1.toml";
  d.relay_config = d.dir + "/config/us-relay.toml";
  d.receiver_config = d.dir + "/config/sy-rx-1.toml";
  CG_RETURN_IF_ERROR(write_text(d.gateway_config, gateway_toml(o, gw), 0644));
  CG_RETURN_IF_ERROR(
      write_text(d.relay_config, relay_toml(o, d.relay_metrics_port, relay_in, relay_out), 0644));
  CG_RETURN_IF_ERROR(write_text(d.receiver_config, receiver_toml(o, rx), 0644));
  d.gateway_store = d.dir + "/state/il-gw-1";
  d.relay_store = d.dir + "/state/us-relay";
  d.receiver_store = d.dir + "/state/sy-rx-1";
  std::vector<const std::string*> stores = {&d.gateway_store, &d.relay_store, &d.receiver_store};
  if (o.separate_guard) {
    d.guard_config = d.dir + "/config/il-guard-1.toml";
    d.guard_store = d.dir + "/state/il-guard-1";
    CG_RETURN_IF_ERROR(write_text(d.guard_config, guard_toml(o, gw), 0644));
    stores.push_back(&d.guard_store);
  }
  if (both) {
    auto& r = *d.reverse;
    GatewaySpec sgw{sy_gateway_id,
                    "sy",
                    "il",
                    r.gateway_metrics_port,
                    sy_ingest_port,
                    {{r.source_id, r.source.public_z85}, {receiver_id, receiver_curve.public_z85}},
                    {"to-us", "us", link_id_sy_us, "sy-us.link", 0},
                    peer("sy-us", r.relay_link_in_port)};
    if (o.separate_guard) {
      sgw.guard_id = "sy-guard-1";
      sgw.guard_port = sy_guard_port;
      sgw.guard_metrics_port = r.guard_metrics_port;
      sgw.guard_curve_public = guard_curves["sy-guard-1"].public_z85;
      sgw.filter_curve_public = guard_curves["sy-gw-1.filter"].public_z85;
      r.guard_config = d.dir + "/config/sy-guard-1.toml";
      r.guard_store = d.dir + "/state/sy-guard-1";
      CG_RETURN_IF_ERROR(write_text(r.guard_config, guard_toml(o, sgw), 0644));
      stores.push_back(&r.guard_store);
    }
    ReceiverSpec irx{il_receiver_id,
                     "il",
                     "sy",
                     r.receiver_metrics_port,
                     il_deliver_port,
                     {"from-us", "us", link_id_us_il, "us-il.link", r.receiver_link_in_port},
                     {r.consumer_id, r.consumer.public_z85},
                     {{d.ingest_endpoint, gateway_curve.public_z85}}};
    r.gateway_config = d.dir + "/config/sy-gw-1.toml";
    r.receiver_config = d.dir + "/config/il-rx-1.toml";
    CG_RETURN_IF_ERROR(write_text(r.gateway_config, gateway_toml(o, sgw), 0644));
    CG_RETURN_IF_ERROR(write_text(r.receiver_config, receiver_toml(o, irx), 0644));
    r.gateway_store = d.dir + "/state/sy-gw-1";
    r.receiver_store = d.dir + "/state/il-rx-1";
    stores.push_back(&r.gateway_store);
    stores.push_back(&r.receiver_store);
  }
  for (const std::string* store : stores) CG_RETURN_IF_ERROR(make_dir(*store, 0700));
  CG_RETURN_IF_ERROR(write_text(d.dir + "/README.txt", readme(o, d), 0644));
  return d;
}

}  // namespace cg::deploy
