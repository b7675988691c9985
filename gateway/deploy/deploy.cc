// A loopback deployment of the cell, written the way an operator lays one out (deploy.h).
#include "gateway/deploy/deploy.h"

#include <arpa/inet.h>
#include <capnp/message.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/common/limits.h"
#include "gateway/wire/wire.h"

namespace cg::deploy {
namespace {

constexpr std::int64_t day_ns = 86'400LL * 1'000'000'000;
constexpr std::int64_t valid_ns = 30 * day_ns;  // trust root and rules bundle
constexpr std::uint32_t link_id_il_us = 1;
constexpr std::uint32_t link_id_us_sy = 2;
constexpr std::size_t passphrase_bytes = 32;  // random bytes, written as hex
constexpr std::uint64_t rcvbuf_bytes = 8u << 20;

const char* const gateway_id = "il-gw-1";
const char* const relay_id = "us-relay";
const char* const receiver_id = "sy-rx-1";
const char* const reviewer_names[] = {"alice", "bob", "carol"};

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

// Holds each picked port's socket open until destroyed, so one create() never gets the same
// port twice.
class PortPicker final {
 public:
  PortPicker() = default;
  PortPicker(const PortPicker&) = delete;
  PortPicker& operator=(const PortPicker&) = delete;
  ~PortPicker() {
    for (int fd : fds_) ::close(fd);
  }
  Result<std::uint16_t> pick(int kind) {
    const int fd = ::socket(AF_INET, kind | SOCK_CLOEXEC, 0);
    if (fd < 0) return io_error(std::string("free port: socket: ") + std::strerror(errno));
    fds_.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return io_error(std::string("free port: bind 127.0.0.1:0: ") + std::strerror(errno));
    }
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return io_error(std::string("free port: getsockname: ") + std::strerror(errno));
    }
    return ntohs(addr.sin_port);
  }

 private:
  std::vector<int> fds_;
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

// The trust root: party il with its three reviewers (threshold 2), the three nodes with their
// signing and agreement keys, one root key (threshold 1) that signs it.
Result<std::vector<std::uint8_t>> trust_root(
    const crypto::Suite& suite, const std::vector<std::unique_ptr<crypto::SigningKey>>& reviewers,
    const crypto::SigningKey& root_key, std::span<const NodeSpec> nodes, std::int64_t now) {
  capnp::MallocMessageBuilder mb;
  auto body = mb.initRoot<schema::TrustRoot>().initBody();
  body.setVersion(1);
  body.setExpires(now + valid_ns);
  auto party = body.initParties(1)[0];
  party.setId("il");
  party.setReviewerThreshold(2);
  auto revs = party.initReviewers(static_cast<unsigned>(reviewers.size()));
  for (unsigned i = 0; i < reviewers.size(); ++i) {
    approval::fill_public_key(revs[i], suite.id(), reviewers[i]->public_key(),
                              std::string("il/") + reviewer_names[i]);
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

// Version 1 of il's rules bundle, valid from a second ago for 30 days, approved by alice and
// carol.
Result<std::vector<std::uint8_t>> rules_bundle(
    const crypto::Suite& suite, const std::vector<std::unique_ptr<crypto::SigningKey>>& reviewers,
    std::string_view policy, std::int64_t now) {
  const approval::SuiteVerifier verifier(suite);
  CG_ASSIGN_OR_RETURN(auto bundle, approval::propose("il", policy, nullptr, now - 1'000'000'000,
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
                        std::uint16_t metrics_port, bool agreement, const Options& o) {
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
  t += "signing_key = \"../keys/" + std::string(id) + ".sign\"\n";
  if (agreement) t += "agreement_key = \"../keys/" + std::string(id) + ".kx\"\n";
  if (encrypted) t += "passphrase_file = \"../keys/passphrase\"\n";
  t += "trust_root = \"../trust/root.bin\"\n\n";
  return t;
}

std::string link_out_toml(const char* name, const char* party, std::uint32_t link_id,
                          const char* key_file, std::uint16_t peer_port,
                          std::uint64_t rate_bytes_per_s) {
  std::string t = "[[link_out]]\n";
  t += "name = \"" + std::string(name) + "\"\n";
  t += "party = \"" + std::string(party) + "\"\n";
  t += "link_id = " + std::to_string(link_id) + "\n";
  t += "key_file = \"../keys/" + std::string(key_file) + "\"\n";
  t += "peer = \"" + loopback(peer_port) + "\"\n";
  t += "rate_bytes_per_s = " + std::to_string(rate_bytes_per_s) + "\n\n";
  return t;
}

std::string link_in_toml(const char* name, const char* party, std::uint32_t link_id,
                         const char* key_file, std::uint16_t port) {
  std::string t = "[[link_in]]\n";
  t += "name = \"" + std::string(name) + "\"\n";
  t += "party = \"" + std::string(party) + "\"\n";
  t += "link_id = " + std::to_string(link_id) + "\n";
  t += "key_file = \"../keys/" + std::string(key_file) + "\"\n";
  t += "listen = \"" + loopback(port) + "\"\n";
  t += "rcvbuf_bytes = " + std::to_string(rcvbuf_bytes) + "\n\n";
  return t;
}

std::string gateway_toml(const Options& o, const Deployment& d, std::uint16_t ingest_port) {
  std::string t =
      "# il's gateway: judges il's items under the approved rules bundle and sends\n"
      "# what is releasable to sy through the relay.\n";
  t += common_toml(gateway_id, "il", "gateway", d.gateway_metrics_port, false, o);
  t += "[pipeline]\n";
  t += "rules_bundle = \"../rules/il.bundle\"\n";
  t += "batch_items_max = " + std::to_string(o.pipeline_batch_items_max) + "\n\n";
  t += "[ingest]\n";
  t += "listen = \"tcp://" + loopback(ingest_port) + "\"\n";
  t += "curve_secret_file = \"../keys/il-gw-1.curve\"\n";
  t += "inbox_items_max = " + std::to_string(o.ingest_inbox_items_max) + "\n\n";
  t += "[[ingest.source]]\n";
  t += "id = \"" + d.source_id + "\"\n";
  t += "curve_public = \"" + d.source.public_z85 + "\"\n\n";
  t += link_out_toml("to-us", "us", link_id_il_us, "il-us.link",
                     o.gateway_link_peer_port.value_or(d.relay_link_in_port),
                     o.link_rate_bytes_per_s);
  return t;
}

std::string relay_toml(const Options& o, const Deployment& d) {
  std::string t =
      "# The supervisor's relay: verifies, logs and countersigns il's envelopes and\n"
      "# forwards them to sy.\n";
  t += common_toml(relay_id, "us", "relay", d.relay_metrics_port, true, o);
  t += "[relay]\n";
  t += "routes = [\"il->sy\"]\n\n";
  t += link_in_toml("from-il", "il", link_id_il_us, "il-us.link", d.relay_link_in_port);
  t += link_out_toml("to-sy", "sy", link_id_us_sy, "us-sy.link", d.receiver_link_in_port,
                     o.link_rate_bytes_per_s);
  return t;
}

std::string receiver_toml(const Options& o, const Deployment& d, std::uint16_t deliver_port) {
  std::string t =
      "# sy's receiver: checks the relay's proof and il's signatures, opens and hands\n"
      "# items to sy's consumers.\n";
  t += common_toml(receiver_id, "sy", "receiver", d.receiver_metrics_port, true, o);
  t += link_in_toml("from-us", "us", link_id_us_sy, "us-sy.link", d.receiver_link_in_port);
  t += "[deliver]\n";
  t += "listen = \"tcp://" + loopback(deliver_port) + "\"\n";
  t += "curve_secret_file = \"../keys/sy-rx-1.curve\"\n\n";
  t += "[[deliver.consumer]]\n";
  t += "id = \"" + d.consumer_id + "\"\n";
  t += "curve_public = \"" + d.consumer.public_z85 + "\"\n";
  return t;
}

std::string readme(const Options& o, const Deployment& d) {
  std::string t =
      "A loopback deployment of the cell: il-gw-1 (gateway, il) -> us-relay (relay, us)\n"
      "-> sy-rx-1 (receiver, sy). Run each node with\n"
      "  cellgate run --config config/<node>.toml\n\n";
  t += "config/     the three node configs (paths in them are relative to config/)\n";
  t += "keys/       node keys (<node>.sign, <node>.kx, .pub beside them), link MAC keys\n";
  t += "            (il-us.link, us-sy.link), CURVE secret keys (<id>.curve, one Z85 line)\n";
  t += "            for the gateway, the receiver, source il-src-1 and consumer sy-consumer-1\n";
  if (o.encrypt_keys) t += "            passphrase: seals every private key file (keep it 0600)\n";
  t += "keys/root/  the root key that signed trust/root.bin (keep offline in a real cell)\n";
  t += "keys/reviewers/  il/alice, il/bob, il/carol signing keys (their own workstations in a\n";
  t += "            real cell); alice and carol approved rules/il.bundle\n";
  t += "trust/root.bin      the trust root, valid 30 days\n";
  t += "rules/il.bundle     il's rules bundle v1 (rules/il-policy.toml), valid 30 days\n";
  t += "state/<node>/       the nodes' stores\n\n";
  t += "ingest:  " + d.ingest_endpoint + "  gateway CURVE key " + d.gateway_curve_public + "\n";
  t += "deliver: " + d.deliver_endpoint + "  receiver CURVE key " + d.receiver_curve_public + "\n";
  t += "metrics: 127.0.0.1:" + std::to_string(d.gateway_metrics_port) +
       " (gateway), :" + std::to_string(d.relay_metrics_port) +
       " (relay), :" + std::to_string(d.receiver_metrics_port) + " (receiver)\n";
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

  // Keys: nodes, reviewers, root, links, CURVE.
  crypto::NodeKeyPaths node_keys[3];
  const char* ids[] = {gateway_id, relay_id, receiver_id};
  for (std::size_t i = 0; i < 3; ++i) {
    CG_ASSIGN_OR_RETURN(node_keys[i], crypto::write_node_keys(keys, ids[i], o.suite, pp, !pp));
  }
  std::vector<std::unique_ptr<crypto::SigningKey>> reviewers;
  for (const char* name : reviewer_names) {
    reviewers.push_back(suite->generate_signing_key());
    d.reviewer_key_files.push_back(keys + "/reviewers/il-" + name + ".sign");
    CG_RETURN_IF_ERROR(write_signing_key(d.reviewer_key_files.back(), *reviewers.back(), pp));
  }
  const auto root_key = suite->generate_signing_key();
  CG_RETURN_IF_ERROR(write_signing_key(keys + "/root/root-1.sign", *root_key, pp));
  CG_RETURN_IF_ERROR(write_link_key(keys + "/il-us.link"));
  CG_RETURN_IF_ERROR(write_link_key(keys + "/us-sy.link"));
  const ingest::KeyPair gateway_curve = ingest::curve_keypair();
  const ingest::KeyPair receiver_curve = ingest::curve_keypair();
  d.source_id = "il-src-1";
  d.source = ingest::curve_keypair();
  d.consumer_id = "sy-consumer-1";
  d.consumer = ingest::curve_keypair();
  d.gateway_curve_public = gateway_curve.public_z85;
  d.receiver_curve_public = receiver_curve.public_z85;
  const std::pair<std::string, const ingest::KeyPair*> curves[] = {{gateway_id, &gateway_curve},
                                                                   {receiver_id, &receiver_curve},
                                                                   {d.source_id, &d.source},
                                                                   {d.consumer_id, &d.consumer}};
  for (const auto& [id, pair] : curves) {
    const std::string base = keys + "/" + id + ".curve";
    CG_RETURN_IF_ERROR(write_text(base, curve_line(pair->secret_z85), 0600));
    CG_RETURN_IF_ERROR(write_text(base + ".pub", curve_line(pair->public_z85), 0644));
  }

  // Trust root and rules bundle.
  const std::int64_t now = now_ns();
  const NodeSpec nodes[] = {{gateway_id, "il", schema::Role::GATEWAY, &node_keys[0]},
                            {relay_id, "us", schema::Role::RELAY, &node_keys[1]},
                            {receiver_id, "sy", schema::Role::RECEIVER, &node_keys[2]}};
  CG_ASSIGN_OR_RETURN(auto root, trust_root(*suite, reviewers, *root_key, nodes, now));
  d.trust_root_file = d.dir + "/trust/root.bin";
  CG_RETURN_IF_ERROR(crypto::write_file(d.trust_root_file, root, 0644));
  CG_ASSIGN_OR_RETURN(auto bundle, rules_bundle(*suite, reviewers, policy, now));
  d.rules_bundle_file = d.dir + "/rules/il.bundle";
  CG_RETURN_IF_ERROR(crypto::write_file(d.rules_bundle_file, bundle, 0644));
  d.policy_file = d.dir + "/rules/il-policy.toml";
  CG_RETURN_IF_ERROR(write_text(d.policy_file, policy, 0644));

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

  d.gateway_config = d.dir + "/config/il-gw-1.toml";
  d.relay_config = d.dir + "/config/us-relay.toml";
  d.receiver_config = d.dir + "/config/sy-rx-1.toml";
  CG_RETURN_IF_ERROR(write_text(d.gateway_config, gateway_toml(o, d, ingest_port), 0644));
  CG_RETURN_IF_ERROR(write_text(d.relay_config, relay_toml(o, d), 0644));
  CG_RETURN_IF_ERROR(write_text(d.receiver_config, receiver_toml(o, d, deliver_port), 0644));
  d.gateway_store = d.dir + "/state/il-gw-1";
  d.relay_store = d.dir + "/state/us-relay";
  d.receiver_store = d.dir + "/state/sy-rx-1";
  for (const std::string* store : {&d.gateway_store, &d.relay_store, &d.receiver_store}) {
    CG_RETURN_IF_ERROR(make_dir(*store, 0700));
  }
  CG_RETURN_IF_ERROR(write_text(d.dir + "/README.txt", readme(o, d), 0644));
  return d;
}

}  // namespace cg::deploy
