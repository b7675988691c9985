// deploy::create writes a deployment that is real: its configs load, its trust root bootstraps,
// its bundle is accepted by the Approver a gateway uses, and its three nodes, started from the
// written configs, carry items from the listed source to the listed consumer.
#include "bench/lab/deploy/deploy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "bench/lab/synth/synth.h"
#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/common/clock.h"
#include "gateway/config/config.h"
#include "gateway/deliver/deliver.h"
#include "gateway/policy/policy.h"
#include "gateway/roles/gateway/gateway.h"
#include "gateway/roles/receiver/receiver.h"
#include "gateway/roles/relay/relay.h"
#include "gateway/store/store.h"
#include "gateway/wire/wire.h"
#include "tests/support/temp_dir.h"

namespace cg::deploy {
namespace {

const std::string policy_path =
    std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string loopback(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

class DeployTest : public ::testing::Test {
 protected:
  Options options(bool encrypt) {
    Options o;
    o.dir = tmp_.file("cell");
    o.policy_file = policy_path;
    o.encrypt_keys = encrypt;
    return o;
  }

  testing::TempDir tmp_{"cg-deploy"};
  SystemClock clock_;
};

TEST_F(DeployTest, ConfigsLoadAndDescribeTheCell) {
  auto d = create(options(false));
  ASSERT_TRUE(d.ok()) << d.status().reason();
  auto gw = config::load(d->gateway_config);
  ASSERT_TRUE(gw.ok()) << gw.status().reason();
  auto relay = config::load(d->relay_config);
  ASSERT_TRUE(relay.ok()) << relay.status().reason();
  auto rx = config::load(d->receiver_config);
  ASSERT_TRUE(rx.ok()) << rx.status().reason();

  EXPECT_EQ(gw->id, "il-gw-1");
  EXPECT_EQ(gw->party, "il");
  EXPECT_EQ(gw->role, config::Role::gateway);
  EXPECT_EQ(gw->store, d->gateway_store);
  EXPECT_EQ(gw->metrics.listen, loopback(d->gateway_metrics_port));
  EXPECT_EQ(gw->keys->trust_root, d->trust_root_file);
  EXPECT_TRUE(gw->keys->passphrase_file.empty());
  EXPECT_EQ(gw->pipeline->rules_bundle, d->rules_bundle_file);
  EXPECT_EQ(gw->ingest->listen, d->ingest_endpoint);
  ASSERT_EQ(gw->ingest->sources.size(), 1u);
  EXPECT_EQ(gw->ingest->sources[0].id, d->source_id);
  EXPECT_EQ(gw->ingest->sources[0].curve_public, d->source.public_z85);
  ASSERT_EQ(gw->links_out.size(), 1u);
  EXPECT_EQ(gw->links_out[0].peer, loopback(d->relay_link_in_port));

  EXPECT_EQ(relay->id, "us-relay");
  EXPECT_EQ(relay->party, "us");
  EXPECT_EQ(relay->role, config::Role::relay);
  EXPECT_EQ(relay->metrics.listen, loopback(d->relay_metrics_port));
  EXPECT_EQ(relay->relay->routes, std::vector<std::string>{"il->sy"});
  ASSERT_EQ(relay->links_in.size(), 1u);
  ASSERT_EQ(relay->links_out.size(), 1u);
  EXPECT_EQ(relay->links_in[0].party, "il");
  EXPECT_EQ(relay->links_in[0].listen, loopback(d->relay_link_in_port));
  EXPECT_EQ(relay->links_in[0].link_id, gw->links_out[0].link_id);
  EXPECT_EQ(relay->links_in[0].key_file, gw->links_out[0].key_file);
  EXPECT_EQ(relay->links_out[0].party, "sy");
  EXPECT_EQ(relay->links_out[0].peer, loopback(d->receiver_link_in_port));

  EXPECT_EQ(rx->id, "sy-rx-1");
  EXPECT_EQ(rx->party, "sy");
  EXPECT_EQ(rx->role, config::Role::receiver);
  EXPECT_EQ(rx->metrics.listen, loopback(d->receiver_metrics_port));
  ASSERT_EQ(rx->links_in.size(), 1u);
  EXPECT_EQ(rx->links_in[0].listen, loopback(d->receiver_link_in_port));
  EXPECT_EQ(rx->links_in[0].link_id, relay->links_out[0].link_id);
  EXPECT_EQ(rx->links_in[0].key_file, relay->links_out[0].key_file);
  EXPECT_NE(rx->links_in[0].link_id, gw->links_out[0].link_id);
  EXPECT_EQ(rx->deliver->listen, d->deliver_endpoint);
  ASSERT_EQ(rx->deliver->consumers.size(), 1u);
  EXPECT_EQ(rx->deliver->consumers[0].id, d->consumer_id);
  EXPECT_EQ(rx->deliver->consumers[0].curve_public, d->consumer.public_z85);

  // Every port differs from every other of its kind.
  const std::set<std::uint16_t> tcp{d->gateway_metrics_port, d->relay_metrics_port,
                                    d->receiver_metrics_port};
  EXPECT_EQ(tcp.size(), 3u);
  EXPECT_NE(d->relay_link_in_port, d->receiver_link_in_port);

  // The CURVE files hold the keys the deployment reports.
  EXPECT_EQ(*ingest::curve_public(slurp(gw->ingest->curve_secret_file).substr(0, 40)),
            d->gateway_curve_public);
  EXPECT_EQ(*ingest::curve_public(slurp(rx->deliver->curve_secret_file).substr(0, 40)),
            d->receiver_curve_public);
  EXPECT_EQ(slurp(d->dir + "/keys/il-src-1.curve"), d->source.secret_z85 + "\n");
}

// Both directions: five configs that load and fit together — the relay forwards each party's
// envelopes to the other, each receiver is a source of its own party's gateway.
TEST_F(DeployTest, BothDirectionsFitTogether) {
  Options o = options(false);
  o.both_directions = true;
  o.sy_policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/sy-policy.toml";
  auto d = create(o);
  ASSERT_TRUE(d.ok()) << d.status().reason();
  ASSERT_TRUE(d->reverse);
  const auto& r = *d->reverse;
  auto il_gw = *config::load(d->gateway_config);
  auto sy_gw = config::load(r.gateway_config);
  ASSERT_TRUE(sy_gw.ok()) << sy_gw.status().reason();
  auto relay = *config::load(d->relay_config);
  auto sy_rx = *config::load(d->receiver_config);
  auto il_rx = config::load(r.receiver_config);
  ASSERT_TRUE(il_rx.ok()) << il_rx.status().reason();
  EXPECT_EQ(sy_gw->party, "sy");
  EXPECT_EQ(il_rx->party, "il");
  EXPECT_EQ(relay.relay->routes, (std::vector<std::string>{"il->sy", "sy->il"}));
  ASSERT_EQ(relay.links_in.size(), 2u);
  ASSERT_EQ(relay.links_out.size(), 2u);
  EXPECT_EQ(relay.links_in[1].party, "sy");
  EXPECT_EQ(relay.links_in[1].listen, loopback(r.relay_link_in_port));
  EXPECT_EQ(relay.links_in[1].link_id, sy_gw->links_out[0].link_id);
  EXPECT_EQ(relay.links_out[1].party, "il");
  EXPECT_EQ(relay.links_out[1].peer, loopback(r.receiver_link_in_port));
  EXPECT_EQ(il_rx->links_in[0].link_id, relay.links_out[1].link_id);
  // Each receiver is a source of its own party's gateway, under the key it serves with.
  ASSERT_TRUE(sy_rx.recovery && il_rx->recovery);
  EXPECT_EQ(sy_rx.recovery->gateway, r.ingest_endpoint);
  EXPECT_EQ(sy_rx.recovery->gateway_curve_public, r.gateway_curve_public);
  EXPECT_EQ(il_rx->recovery->gateway, d->ingest_endpoint);
  ASSERT_EQ(il_gw.ingest->sources.size(), 2u);
  EXPECT_EQ(il_gw.ingest->sources[1].id, "il-rx-1");
  EXPECT_EQ(il_gw.ingest->sources[1].curve_public, r.receiver_curve_public);
  ASSERT_EQ(sy_gw->ingest->sources.size(), 2u);
  EXPECT_EQ(sy_gw->ingest->sources[1].curve_public, d->receiver_curve_public);
  // The trust root names both parties with their reviewers, and the five nodes; sy's bundle is
  // accepted like il's.
  const approval::SuiteVerifier verifier(crypto::modern_suite());
  auto root = approval::TrustRoot::bootstrap(*crypto::read_file(d->trust_root_file, 1u << 20),
                                             verifier, clock_.now_ns());
  ASSERT_TRUE(root.ok()) << root.status().reason();
  EXPECT_EQ(root->body().getParties().size(), 2u);
  EXPECT_EQ(root->body().getNodes().size(), 5u);
  auto env = *store::Env::open({.path = tmp_.file("approver"), .map_bytes = 16 << 20});
  auto approver = approval::Approver::open(
      *env, "sy", *root, std::make_shared<approval::SuiteVerifier>(verifier),
      [](std::string_view text) -> Result<approval::CompiledPolicy> {
        CG_ASSIGN_OR_RETURN(auto p, policy::Policy::parse(text, "sy"));
        return approval::CompiledPolicy(std::shared_ptr<const policy::Policy>(std::move(p)));
      });
  ASSERT_TRUE(approver.ok()) << approver.status().reason();
  auto b = (*approver)->offer(*crypto::read_file(r.rules_bundle_file, 1u << 20), clock_.now_ns());
  EXPECT_TRUE(b.ok()) << b.status().reason();
  // Without its policy, both directions are refused.
  Options missing = o;
  missing.dir = tmp_.file("cell2");
  missing.sy_policy_file.clear();
  EXPECT_EQ(create(missing).status().code(), Code::malformed);
}

TEST_F(DeployTest, TrustRootBootstrapsAndTheBundleIsAccepted) {
  auto d = create(options(false));
  ASSERT_TRUE(d.ok()) << d.status().reason();
  const crypto::Suite& suite = crypto::modern_suite();
  const auto verifier = std::make_shared<approval::SuiteVerifier>(suite);
  const std::int64_t now = clock_.now_ns();

  auto root_bytes = crypto::read_file(d->trust_root_file, 1u << 20);
  ASSERT_TRUE(root_bytes.ok());
  auto root = approval::TrustRoot::bootstrap(*root_bytes, *verifier, now);
  ASSERT_TRUE(root.ok()) << root.status().reason();
  const std::int64_t days30 = 30LL * 86'400 * 1'000'000'000;
  EXPECT_GT(root->expires(), now + days30 - 600'000'000'000LL);
  EXPECT_LE(root->expires(), now + days30);
  auto il = root->party("il");
  ASSERT_TRUE(il.has_value());
  EXPECT_EQ(il->getReviewerThreshold(), 2u);
  EXPECT_EQ(il->getReviewers().size(), 3u);

  // Each node's signing key file matches the key the trust root names for it.
  for (const std::string& file : {d->gateway_config, d->relay_config, d->receiver_config}) {
    auto c = config::load(file);
    ASSERT_TRUE(c.ok());
    auto key = crypto::load_signing_key_file(c->keys->signing_key, nullptr, true);
    ASSERT_TRUE(key.ok()) << key.status().reason();
    auto node = root->node(c->id);
    ASSERT_TRUE(node.has_value()) << c->id;
    const auto listed = node->getSigningKey().getKey();
    EXPECT_TRUE(std::equal(listed.begin(), listed.end(), (*key)->public_key().begin(),
                           (*key)->public_key().end()))
        << c->id;
    EXPECT_EQ(wire::view(node->getParty()), c->party);
  }

  // The bundle: accepted by the Approver a gateway opens, with the policy text as written.
  auto env = store::Env::open({.path = tmp_.file("approver"), .map_bytes = 64u << 20});
  ASSERT_TRUE(env.ok()) << env.status().reason();
  auto approver = approval::Approver::open(
      **env, "il", *root, verifier, [](std::string_view text) -> Result<approval::CompiledPolicy> {
        CG_ASSIGN_OR_RETURN(auto p, policy::Policy::parse(text, "rules bundle"));
        return approval::CompiledPolicy(std::shared_ptr<const policy::Policy>(std::move(p)));
      });
  ASSERT_TRUE(approver.ok()) << approver.status().reason();
  auto bundle_bytes = crypto::read_file(d->rules_bundle_file, 1u << 24);
  ASSERT_TRUE(bundle_bytes.ok());
  auto bundle = (*approver)->offer(*bundle_bytes, now);
  ASSERT_TRUE(bundle.ok()) << bundle.status().reason();
  EXPECT_EQ((*bundle)->version, 1u);
  EXPECT_EQ((*bundle)->party, "il");
  EXPECT_LT((*bundle)->created, now);
  EXPECT_GT((*bundle)->expires, now + days30 - 600'000'000'000LL);
  EXPECT_EQ((*bundle)->policy_text, slurp(policy_path));
  EXPECT_EQ(slurp(d->policy_file), slurp(policy_path));

  // alice and carol signed it; bob did not. Their key files are where the deployment says.
  ASSERT_EQ(d->reviewer_key_files.size(), 3u);
  auto decoded = approval::decode_bundle(*bundle_bytes);
  ASSERT_TRUE(decoded.ok());
  std::set<std::vector<std::uint8_t>> signers;
  for (auto s : decoded->root().getSignatures()) {
    signers.emplace(s.getKeyId().begin(), s.getKeyId().end());
  }
  const bool expect_signed[] = {true, false, true};
  for (std::size_t i = 0; i < 3; ++i) {
    auto key = crypto::load_signing_key_file(d->reviewer_key_files[i], nullptr, true);
    ASSERT_TRUE(key.ok()) << d->reviewer_key_files[i] << ": " << key.status().reason();
    EXPECT_EQ(signers.count(crypto::key_id(suite.id(), (*key)->public_key())),
              expect_signed[i] ? 1u : 0u)
        << d->reviewer_key_files[i];
  }
}

TEST_F(DeployTest, SecretsAreOwnerOnlyAndTheDirectoryCanBeMoved) {
  auto d = create(options(false));
  ASSERT_TRUE(d.ok()) << d.status().reason();
  EXPECT_EQ(mode_of(d->dir), 0700u);
  EXPECT_EQ(mode_of(d->dir + "/keys"), 0700u);
  EXPECT_EQ(mode_of(d->dir + "/state"), 0700u);
  EXPECT_EQ(mode_of(d->gateway_store), 0700u);
  for (const char* f : {"il-gw-1.sign", "il-gw-1.kx", "us-relay.kx", "sy-rx-1.sign", "il-us.link",
                        "us-sy.link", "il-gw-1.curve", "sy-rx-1.curve", "il-src-1.curve",
                        "sy-consumer-1.curve", "root/root-1.sign", "reviewers/il-bob.sign"}) {
    EXPECT_EQ(mode_of(d->dir + "/keys/" + f), 0600u) << f;
  }
  EXPECT_FALSE(std::filesystem::exists(d->dir + "/keys/passphrase"));
  EXPECT_NE(slurp(d->dir + "/README.txt").find("config/"), std::string::npos);

  // Every path in the configs is relative: after a move they resolve inside the new place.
  const std::string moved = tmp_.file("moved");
  std::filesystem::rename(d->dir, moved);
  for (const char* name : {"il-gw-1", "us-relay", "sy-rx-1"}) {
    auto c = config::load(moved + "/config/" + name + ".toml");
    ASSERT_TRUE(c.ok()) << c.status().reason();
    std::vector<std::string> paths{c->store, c->keys->signing_key, c->keys->trust_root};
    if (!c->keys->agreement_key.empty()) paths.push_back(c->keys->agreement_key);
    if (c->pipeline) paths.push_back(c->pipeline->rules_bundle);
    if (c->ingest) paths.push_back(c->ingest->curve_secret_file);
    if (c->deliver) paths.push_back(c->deliver->curve_secret_file);
    for (const auto& l : c->links_in) paths.push_back(l.key_file);
    for (const auto& l : c->links_out) paths.push_back(l.key_file);
    for (const auto& p : paths) {
      EXPECT_EQ(p.rfind(moved + "/", 0), 0u) << name << ": " << p;
      EXPECT_TRUE(std::filesystem::exists(p)) << name << ": " << p;
    }
  }
}

TEST_F(DeployTest, OptionsReachTheConfigs) {
  Options o = options(false);
  o.gateway_link_peer_port = 4242;
  o.pipeline_batch_items_max = 64;
  o.link_rate_bytes_per_s = 20'000'000;
  auto d = create(o);
  ASSERT_TRUE(d.ok()) << d.status().reason();
  auto gw = config::load(d->gateway_config);
  ASSERT_TRUE(gw.ok()) << gw.status().reason();
  EXPECT_EQ(gw->links_out[0].peer, "127.0.0.1:4242");
  EXPECT_EQ(gw->links_out[0].rate_bytes_per_s, 20'000'000u);
  EXPECT_EQ(gw->pipeline->batch_items_max, 64u);
  auto relay = config::load(d->relay_config);
  ASSERT_TRUE(relay.ok());
  EXPECT_EQ(relay->links_in[0].listen, loopback(d->relay_link_in_port))
      << "the relay still listens on its own port; the proxy forwards there";
  EXPECT_EQ(relay->links_out[0].rate_bytes_per_s, 20'000'000u);
}

TEST_F(DeployTest, RefusesANonEmptyDirectoryAndNamesWhatIsWrong) {
  Options o = options(false);
  std::filesystem::create_directories(o.dir);
  std::ofstream(o.dir + "/keep.txt") << "an operator's file\n";
  auto d = create(o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::rejected);
  EXPECT_NE(d.status().reason().find(o.dir), std::string::npos) << d.status().reason();
  EXPECT_NE(d.status().reason().find("not empty"), std::string::npos) << d.status().reason();
  EXPECT_EQ(slurp(o.dir + "/keep.txt"), "an operator's file\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(o.dir),
                          std::filesystem::directory_iterator()),
            1)
      << "nothing written next to it";

  Options file = options(false);
  file.dir = o.dir + "/keep.txt";
  auto f = create(file);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::rejected);
  EXPECT_NE(f.status().reason().find("not a directory"), std::string::npos);

  Options no_policy = options(false);
  no_policy.dir = tmp_.file("other");
  no_policy.policy_file = tmp_.file("missing-policy.toml");
  auto p = create(no_policy);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::io);
  EXPECT_NE(p.status().reason().find("missing-policy.toml"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(no_policy.dir)) << "checked before anything is written";

  // An existing empty directory is fine.
  Options empty = options(false);
  empty.dir = tmp_.file("empty");
  std::filesystem::create_directories(empty.dir);
  EXPECT_TRUE(create(empty).ok());
}

// The three nodes, started in this process from the written configs with encrypted key files,
// carry items from the deployment's source to its consumer.
TEST_F(DeployTest, EncryptedCellCarriesItemsFromSourceToConsumer) {
  auto d = create(options(true));
  ASSERT_TRUE(d.ok()) << d.status().reason();
  const std::string pass_file = d->dir + "/keys/passphrase";
  EXPECT_EQ(mode_of(pass_file), 0600u);
  auto gw = config::load(d->gateway_config);
  auto relay = config::load(d->relay_config);
  auto rx = config::load(d->receiver_config);
  ASSERT_TRUE(gw.ok() && relay.ok() && rx.ok());
  for (const auto* c : {&*gw, &*relay, &*rx}) EXPECT_EQ(c->keys->passphrase_file, pass_file);
  // The key files are sealed: without the passphrase they do not load.
  EXPECT_FALSE(crypto::load_signing_key_file(gw->keys->signing_key, nullptr, true).ok());
  auto pass = crypto::read_passphrase_file(pass_file);
  ASSERT_TRUE(pass.ok());
  EXPECT_TRUE(crypto::load_signing_key_file(gw->keys->signing_key, &*pass, false).ok());
  EXPECT_TRUE(crypto::load_signing_key_file(d->reviewer_key_files[1], &*pass, false).ok());

  auto receiver = node::ReceiverNode::start(*rx, clock_);
  ASSERT_TRUE(receiver.ok()) << receiver.status().reason();
  auto relay_node = node::RelayNode::start(*relay, clock_);
  ASSERT_TRUE(relay_node.ok()) << relay_node.status().reason();
  auto gateway = node::GatewayNode::start(*gw, clock_);
  ASSERT_TRUE(gateway.ok()) << gateway.status().reason();
  EXPECT_EQ((*gateway)->rules_version(), 1u) << "the written bundle is in force";
  EXPECT_EQ((*gateway)->ingest_endpoint(), d->ingest_endpoint);
  EXPECT_EQ((*receiver)->deliver_endpoint(), d->deliver_endpoint);

  constexpr std::size_t items = 60;
  {
    auto source = ingest::SourceClient::connect(d->ingest_endpoint, d->gateway_curve_public,
                                                d->source, 10'000);
    ASSERT_TRUE(source.ok()) << source.status().reason();
    synth::Generator gen({.seed = 11, .source = d->source_id, .now_ns = clock_.now_ns()});
    for (std::size_t i = 0; i < items; ++i) {
      ASSERT_TRUE((*source)->send(gen.next_bytes()).ok());
      auto ack = (*source)->receive_ack(10'000);
      ASSERT_TRUE(ack.ok()) << ack.status().reason();
      EXPECT_TRUE(ack->accepted) << ack->reason << ": " << ack->detail;
    }
  }
  const auto& gc = (*gateway)->counters();
  for (int i = 0; i < 3000; ++i) {
    if (gc.items_judged.load() == items &&
        (*receiver)->counters().stored.load() == gc.released.load()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(gc.items_judged.load(), items);
  const std::uint64_t released = gc.released.load();
  ASSERT_GT(released, 0u);
  EXPECT_EQ((*relay_node)->counters().relayed.load(), released);
  EXPECT_EQ((*receiver)->counters().stored.load(), released);
  EXPECT_EQ((*receiver)->counters().refused.load(), 0u);

  auto consumer = deliver::ConsumerClient::connect(d->deliver_endpoint, d->receiver_curve_public,
                                                   d->consumer, 64, 10'000);
  ASSERT_TRUE(consumer.ok()) << consumer.status().reason();
  std::set<std::uint64_t> seqs;
  for (std::uint64_t i = 0; i < released; ++i) {
    auto item = (*consumer)->receive(10'000);
    ASSERT_TRUE(item.ok()) << item.status().reason();
    EXPECT_EQ(item->origin, "il-gw-1");
    EXPECT_TRUE(wire::decode_canonical_item(item->item).ok());
    seqs.insert(item->seq);
    ASSERT_TRUE((*consumer)->acknowledge(*item).ok());
  }
  EXPECT_EQ(seqs.size(), released) << "each released item once";
  (*gateway)->stop();
  (*relay_node)->stop();
  (*receiver)->stop();
}

TEST(FreePort, BothKindsCanBeBoundAgain) {
  for (int kind : {SOCK_STREAM, SOCK_DGRAM}) {
    auto port = free_port(kind);
    ASSERT_TRUE(port.ok()) << port.status().reason();
    EXPECT_NE(*port, 0u);
    const int fd = ::socket(AF_INET, kind, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(*port);
    EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
  }
}

}  // namespace
}  // namespace cg::deploy
