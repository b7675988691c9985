// Node configuration: whole or nothing, and every mistake named with file:line:col.
#include "gateway/config/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace cg::config {
namespace {

constexpr const char* kKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

std::string gateway_config() {
  return std::string(R"([node]
id = "il-gw-1"
party = "il"
role = "gateway"
store = "state/il-gw-1"

[metrics]
listen = "127.0.0.1:9101"

[ingest]
listen = "tcp://127.0.0.1:7001"
curve_secret_file = "keys/il-gw-1.curve"
batch_items_max = 128

[[ingest.source]]
id = "il-sigint-1"
curve_public = ")") +
         kKey + R"("
)";
}

TEST(Config, GatewayLoads) {
  auto c = parse(gateway_config(), "/etc/cellgate/il-gw-1.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->id, "il-gw-1");
  EXPECT_EQ(c->role, Role::gateway);
  EXPECT_EQ(c->store, "/etc/cellgate/state/il-gw-1");
  ASSERT_TRUE(c->ingest.has_value());
  EXPECT_EQ(c->ingest->batch_items_max, 128u);
  EXPECT_EQ(c->ingest->inbox_items_max, 100'000u);  // default
  EXPECT_EQ(c->ingest->curve_secret_file, "/etc/cellgate/keys/il-gw-1.curve");
  ASSERT_EQ(c->ingest->sources.size(), 1u);
  EXPECT_EQ(c->ingest->sources[0].curve_public, kKey);
  EXPECT_FALSE(c->deliver.has_value());
}

// A source's key may be the file `curve keygen` printed it to; what is in that file is read
// whole or the config is refused, and the two ways of giving a key do not mix.
TEST(Config, CurvePublicFileIsReadWholeOrRefused) {
  const std::string dir = ::testing::TempDir() + "/cfg-curve-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir + "/keys");
  const std::string file = dir + "/il-gw-1.toml";
  auto with = [&](const std::string& peer_lines) {
    std::string text = gateway_config();
    const std::string inline_key = std::string("curve_public = \"") + kKey + "\"\n";
    text.replace(text.find(inline_key), inline_key.size(), peer_lines);
    return parse(text, file);
  };
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/keys/" + name, std::ios::binary) << bytes;
  };
  write("good.pub", std::string(kKey) + "\n");
  auto good = with("curve_public_file = \"keys/good.pub\"\n");
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_EQ(good->ingest->sources[0].curve_public, kKey);

  write("short.pub", "abc\n");
  write("long.pub", std::string(kKey) + "x\n");
  write("two-lines.pub", std::string(kKey) + "\n\n");
  for (const char* bad : {"short.pub", "long.pub", "two-lines.pub", "missing.pub"}) {
    auto c = with(std::string("curve_public_file = \"keys/") + bad + "\"\n");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().reason().find("curve_public_file"), std::string::npos)
        << c.status().reason();
  }
  ASSERT_EQ(::mkfifo((dir + "/keys/fifo.pub").c_str(), 0600), 0);
  auto fifo = with("curve_public_file = \"keys/fifo.pub\"\n");  // must not block
  ASSERT_FALSE(fifo.ok());
  EXPECT_NE(fifo.status().reason().find("not a regular file"), std::string::npos);

  auto both =
      with(std::string("curve_public = \"") + kKey + "\"\ncurve_public_file = \"keys/good.pub\"\n");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().reason().find("exactly one"), std::string::npos);
  auto neither = with("");
  ASSERT_FALSE(neither.ok());
  EXPECT_NE(neither.status().reason().find("exactly one"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Config, ReceiverLoads) {
  auto c = parse(std::string(R"([node]
id = "sy-rx-1"
party = "sy"
role = "receiver"
store = "/var/lib/cellgate/sy-rx-1"

[deliver]
curve_secret_file = "/etc/cellgate/sy-rx-1.curve"
redeliver_after_ms = 2000

[[deliver.consumer]]
id = "sy-analyst"
curve_public = ")") + kKey +
                     "\"\n",
                 "rx.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->deliver->listen, "tcp://127.0.0.1:7201");
  EXPECT_EQ(c->deliver->redeliver_after_ms, 2000u);
}

std::string replace(std::string s, std::string_view from, std::string_view to) {
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(Config, EachMistakeIsNamedWithItsPosition) {
  const std::string base = gateway_config();
  struct Case {
    std::string text;
    const char* reason;
  } cases[] = {
      {replace(base, "batch_items_max = 128", "batch_size = 128"),
       "g.toml:13:1: ingest.batch_size: unknown key"},
      {replace(base, "batch_items_max = 128", "batch_items_max = 100000"),
       "g.toml:13:19: ingest.batch_items_max: must be between 1 and 4096"},
      {replace(base, "batch_items_max = 128", "batch_items_max = \"128\""),
       "g.toml:13:19: ingest.batch_items_max: must be an integer"},
      {replace(base, "role = \"gateway\"", "role = \"router\""),
       "g.toml:4:8: node.role: must be gateway, relay, receiver or guard"},
      {replace(base, "id = \"il-gw-1\"", "id = \"il gw\""),
       "g.toml:2:6: node.id: must be 1-128 of [A-Za-z0-9._-]"},
      {replace(base, "listen = \"127.0.0.1:9101\"", "listen = \"0.0.0.0:9101\""),
       "g.toml:8:10: metrics.listen: '0.0.0.0:9101' is not a loopback address (set "
       "node.allow_non_loopback = true to listen elsewhere)"},
      {replace(base, "store = \"state/il-gw-1\"\n", ""), "g.toml:1:1: node.store: missing"},
      {replace(base, "store = \"state/il-gw-1\"", "store = \"\""),
       "g.toml:5:9: node.store: must not be empty"},
      {replace(base, "[[ingest.source]]", "[[ingest.sources]]"),
       "g.toml:15:10: ingest.sources: unknown key"},
      {replace(base, "[ingest]", "[deliver]"),
       "g.toml:10:1: deliver: only a receiver has [deliver]"},
      {replace(base, "curve_public = \"", "curve_public = \"x"),
       "g.toml:17:16: ingest.source[0].curve_public: must be a 40-character Z85 key"},
      {base + "[[ingest.source]]\nid = \"il-sigint-1\"\ncurve_public = \"" + kKey + "\"\n",
       "g.toml:19:6: ingest.source[1].id: duplicate id 'il-sigint-1'"},
      {base + "[extra]\n", "g.toml:18:2: extra: unknown key"},
      // Accepted and ignored would promise a protection no node gives yet.
      {base + "[pipeline]\nrules_bundle = \"il.bundle\"\npsk_file = \"psk\"\n",
       "g.toml:20:12: pipeline.psk_file: not supported yet: the nodes do not mix a pre-shared "
       "key into epoch keys; remove it"},
      {replace(base, "[node]", "[node"), "g.toml:1:6: "},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text, "g.toml");
    ASSERT_FALSE(r.ok()) << c.reason;
    EXPECT_EQ(r.status().code(), Code::malformed);
    if (std::string_view(c.reason).ends_with(": ")) {
      EXPECT_EQ(r.status().reason().rfind(c.reason, 0), 0u) << r.status().reason();
    } else {
      EXPECT_EQ(r.status().reason(), c.reason);
    }
  }
}

// A gateway with a separate release guard, and that guard: the gateway holds no signing key
// and names its guard; the guard holds the key, serves one filter key and nothing else.
std::string guarded_gateway_config() {
  return gateway_config() + R"(
[keys]
trust_root = "root.bin"

[guard]
endpoint = "tcp://127.0.0.1:7010"
curve_public = ")" +
         kKey + R"("
curve_secret_file = "keys/il-gw-1.filter.curve"
timeout_ms = 2000
)";
}

std::string guard_config() {
  return std::string(R"([node]
id = "il-guard-1"
party = "il"
role = "guard"
store = "state/il-guard-1"

[keys]
signing_key = "keys/il-gw-1.sign"
trust_root = "root.bin"

[guard]
listen = "tcp://127.0.0.1:7010"
curve_secret_file = "keys/il-guard-1.curve"
filter_curve_public = ")") +
         kKey + R"("
gateway = "il-gw-1"
epoch_items_max = 1000
)";
}

TEST(Config, AGatewayAndItsGuardLoad) {
  auto g = parse(guarded_gateway_config(), "/etc/cellgate/il-gw-1.toml");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  ASSERT_TRUE(g->guard.has_value());
  EXPECT_FALSE(g->guard_service.has_value());
  EXPECT_EQ(g->guard->endpoint, "tcp://127.0.0.1:7010");
  EXPECT_EQ(g->guard->curve_public, kKey);
  EXPECT_EQ(g->guard->curve_secret_file, "/etc/cellgate/keys/il-gw-1.filter.curve");
  EXPECT_EQ(g->guard->timeout_ms, 2000u);
  ASSERT_TRUE(g->keys.has_value());
  EXPECT_TRUE(g->keys->signing_key.empty()) << "the gateway holds no signing key";
  auto s = parse(guard_config(), "/etc/cellgate/il-gw-1/guard.toml");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->role, Role::guard);
  ASSERT_TRUE(s->guard_service.has_value());
  EXPECT_FALSE(s->guard.has_value());
  EXPECT_EQ(s->guard_service->listen, "tcp://127.0.0.1:7010");
  EXPECT_EQ(s->guard_service->filter_curve_public, kKey);
  EXPECT_EQ(s->guard_service->gateway, "il-gw-1");
  EXPECT_EQ(s->guard_service->epoch_items_max, 1000u);
  EXPECT_EQ(s->guard_service->epoch_seconds, 3600u);  // default
  EXPECT_EQ(s->keys->signing_key, "/etc/cellgate/il-gw-1/keys/il-gw-1.sign");
}

// What would weaken the split is refused, not ignored: a gateway that names a guard and also
// holds a signing key, a guard that would also ingest or send, epoch settings where they no
// longer apply.
TEST(Config, TheGuardSplitIsRefusedWhereItWouldNotHold) {
  const std::string gw = guarded_gateway_config(), guard = guard_config();
  struct Case {
    std::string text;
    const char* reason;
  } cases[] = {
      {replace(gw, "trust_root = \"root.bin\"",
               "signing_key = \"keys/il-gw-1.sign\"\ntrust_root = \"root.bin\""),
       "keys.signing_key: a gateway with a [guard] must not hold the signing key: only the guard "
       "does"},
      {replace(gw, "endpoint = \"tcp://127.0.0.1:7010\"", "endpoint = \"ipc:///tmp/g\""),
       "guard.endpoint: "},
      {replace(gw, "endpoint = \"tcp://127.0.0.1:7010\"", "endpoint = \"tcp://10.0.0.1:7010\""),
       "guard.endpoint: 'tcp://10.0.0.1:7010' is not a loopback address"},
      {replace(gw, "timeout_ms = 2000", "timeout_ms = 5"),
       "guard.timeout_ms: must be between 100 and 600000"},
      {replace(gw, "timeout_ms = 2000", "timeout_ms = 2000\nlisten = \"tcp://127.0.0.1:7011\""),
       "guard.listen: unknown key"},
      {gw + "\n[pipeline]\nrules_bundle = \"il.bundle\"\nepoch_items_max = 10\n",
       "pipeline.epoch_items_max: the release guard rotates epoch keys: set it in the guard's "
       "[guard]"},
      {replace(guard, "\n[guard]", "\n[ingest]\nlisten = \"tcp://127.0.0.1:7001\"\n\n[guard]"),
       "ingest: only a gateway has [ingest]"},
      {guard + "\n[[link_out]]\nname = \"x\"\n",
       "link_out: a guard has no [link_out]: it only signs"},
      {replace(guard, "trust_root = \"root.bin\"",
               "agreement_key = \"keys/k.kx\"\ntrust_root = \"root.bin\""),
       "keys.agreement_key: a guard has no key-agreement key"},
      {replace(guard, "gateway = \"il-gw-1\"", "gateway = \"il gw\""),
       "guard.gateway: must be 1-128 of [A-Za-z0-9._-]"},
      {replace(guard, "gateway = \"il-gw-1\"\n", ""), "guard.gateway: missing"},
      {replace(guard, "filter_curve_public = \"", "filter_curve_public = \"x"),
       "guard.filter_curve_public: must be a 40-character Z85 key"},
      {replace(guard, "epoch_items_max = 1000", "epoch_items_max = 0"),
       "guard.epoch_items_max: must be between 1 and 4294967296"},
      {replace(guard, "epoch_items_max = 1000", "epoch_items_max = \"1000\""),
       "guard.epoch_items_max: must be an integer"},
      {replace(guard, "epoch_items_max = 1000", "epoch_items_max = 1000\nepoch_items_max = 2"),
       "g.toml:"},  // a duplicate key: toml++ refuses the document
      {replace(guard, "[guard]", "[relay]"), "relay: only a relay has [relay]"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text, "g.toml");
    ASSERT_FALSE(r.ok()) << c.reason;
    EXPECT_EQ(r.status().code(), Code::malformed);
    EXPECT_EQ(r.status().reason().rfind("g.toml:", 0), 0u) << r.status().reason();
    EXPECT_NE(r.status().reason().find(c.reason), std::string::npos)
        << r.status().reason() << "\n  expected: " << c.reason;
  }
  // A guard without its section, or without its key.
  auto no_section = parse(guard.substr(0, guard.find("\n[guard]")), "g.toml");
  ASSERT_FALSE(no_section.ok());
  EXPECT_NE(no_section.status().reason().find("[guard]: a guard needs it"), std::string::npos)
      << no_section.status().reason();
}

constexpr const char* kRelayConfig = R"([node]
id = "us-relay"
party = "us"
role = "relay"
store = "state/us-relay"

[keys]
signing_key = "keys/us-relay.sign"
agreement_key = "keys/us-relay.kx"
trust_root = "trust/root.bin"

[relay]
freshness_seconds = 120
routes = ["il->sy", "sy->il"]

[[link_in]]
name = "from-il"
party = "il"
listen = "127.0.0.1:7100"
link_id = 1
key_file = "keys/link-il-us.key"
parity_fragments = 6

[[link_out]]
name = "to-sy"
party = "sy"
peer = "127.0.0.1:7200"
link_id = 2
key_file = "keys/link-us-sy.key"
rate_bytes_per_s = 100000000
)";

TEST(Config, RelayWithLinksLoads) {
  auto c = parse(kRelayConfig, "/etc/cellgate/relay.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  ASSERT_TRUE(c->keys && c->relay);
  EXPECT_EQ(c->keys->agreement_key, "/etc/cellgate/keys/us-relay.kx");
  EXPECT_EQ(c->keys->passphrase_file, "");
  EXPECT_EQ(c->relay->freshness_seconds, 120u);
  EXPECT_EQ(c->relay->routes, (std::vector<std::string>{"il->sy", "sy->il"}));
  ASSERT_EQ(c->links_in.size(), 1u);
  EXPECT_EQ(c->links_in[0].party, "il");
  EXPECT_EQ(c->links_in[0].parity_fragments, 6u);
  EXPECT_EQ(c->links_in[0].data_fragments, 64u);  // the link module's default
  EXPECT_EQ(c->links_in[0].key_file, "/etc/cellgate/keys/link-il-us.key");
  ASSERT_EQ(c->links_out.size(), 1u);
  EXPECT_EQ(c->links_out[0].rate_bytes_per_s, 100'000'000u);
  EXPECT_EQ(c->links_out[0].link_id, 2u);
}

TEST(Config, LinkAndRoleMistakesAreNamed) {
  const std::string base = kRelayConfig;
  struct Case {
    std::string text;
    const char* reason;
  } cases[] = {
      {replace(base, "routes = [\"il->sy\", \"sy->il\"]", "routes = [\"il-sy\"]"),
       "r.toml:14:10: relay.routes: 'il-sy' is not of the form \"origin->destination\""},
      {replace(base, "link_id = 1\n", ""), "r.toml:16:1: link_in[0].link_id: missing"},
      {replace(base, "peer = \"127.0.0.1:7200\"", "peer = \"10.0.0.2:7200\""),
       "r.toml:27:8: link_out[0].peer: '10.0.0.2:7200' is not a loopback address (set "
       "node.allow_non_loopback = true to listen elsewhere)"},
      {replace(base, "peer = \"127.0.0.1:7200\"", "peer = \"127.0.0.1:99999999999999999999999\""),
       "r.toml:27:8: link_out[0].peer: must be host:port"},  // found by the fuzzer: no throw
      {replace(base, "peer = \"127.0.0.1:7200\"", "peer = \"127.0.0.1:65536\""),
       "r.toml:27:8: link_out[0].peer: must be host:port"},
      {replace(base, "parity_fragments = 6", "parity_fragments = 200"),
       "r.toml:22:20: link_in[0].parity_fragments: must be between 0 and 128"},
      {replace(base, "parity_fragments = 6", "data_fragments = 128\nparity_fragments = 128"),
       "r.toml:23:20: link_in[0].parity_fragments: data_fragments + parity_fragments must be "
       "at most 255"},
      {replace(base, "name = \"to-sy\"", "name = \"from-il\""),
       "r.toml:17:8: link_in[0].name: duplicate link name 'from-il'"},
      {replace(base, "agreement_key = \"keys/us-relay.kx\"\n", ""),
       "r.toml:7:1: keys.agreement_key: a relay needs its static key-agreement key"},
      {replace(base, "role = \"relay\"", "role = \"receiver\""),
       "r.toml:12:1: relay: only a relay has [relay]"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text, "r.toml");
    ASSERT_FALSE(r.ok()) << c.reason;
    EXPECT_EQ(r.status().reason(), c.reason);
  }
  // A receiver never sends; a gateway never receives.
  std::string rx = replace(base, "role = \"relay\"", "role = \"receiver\"");
  rx = replace(rx, "[relay]\nfreshness_seconds = 120\nroutes = [\"il->sy\", \"sy->il\"]\n", "");
  rx +=
      "[deliver]\ncurve_secret_file = \"k\"\n[[deliver.consumer]]\nid = \"a\"\ncurve_public = \"" +
      std::string(kKey) + "\"\n";
  auto r = parse(rx, "r.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().reason().find("a receiver never sends"), std::string::npos)
      << r.status().reason();
}

// [recovery]: only a receiver has it; its gateway endpoint, key and label policy are checked.
TEST(Config, RecoveryBelongsToAReceiverAndIsChecked) {
  const std::string rx = std::string(R"([node]
id = "sy-rx-1"
party = "sy"
role = "receiver"
store = "s"

[deliver]
curve_secret_file = "k"

[[deliver.consumer]]
id = "a"
curve_public = ")") + kKey +
                         R"("

[recovery]
gateway = "tcp://127.0.0.1:7101"
gateway_curve_public = ")" +
                         kKey + R"("
curve_secret_file = "keys/sy-rx-1.curve"
label_policy = "cell-2026"
report_after_ms = 1500
)";
  auto c = parse(rx, "/etc/cellgate/rx.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  ASSERT_TRUE(c->recovery.has_value());
  EXPECT_EQ(c->recovery->source_id, "sy-rx-1") << "defaults to the node id";
  EXPECT_EQ(c->recovery->curve_secret_file, "/etc/cellgate/keys/sy-rx-1.curve");
  EXPECT_EQ(c->recovery->report_after_ms, 1500u);
  EXPECT_EQ(c->recovery->rereport_after_ms, 5000u);
  EXPECT_EQ(c->recovery->give_up_seconds, 3600u);
  struct Case {
    std::string text;
    const char* reason;
  } cases[] = {
      {replace(rx, "tcp://127.0.0.1:7101", "tcp://10.1.1.1:7101"),
       "rx.toml:15:11: recovery.gateway: 'tcp://10.1.1.1:7101' is not a loopback address (set "
       "node.allow_non_loopback = true to listen elsewhere)"},
      {replace(rx, "tcp://127.0.0.1:7101", "127.0.0.1:7101"),
       "rx.toml:15:11: recovery.gateway: must be tcp://host:port"},
      {replace(rx, "label_policy = \"cell-2026\"\n", ""),
       "rx.toml:14:1: recovery.label_policy: missing"},
      {replace(rx, "report_after_ms = 1500", "report_after_ms = 5"),
       "rx.toml:19:19: recovery.report_after_ms: must be between 100 and 3600000"},
      {replace(rx, "report_after_ms = 1500", "reports = 1"),
       "rx.toml:19:1: recovery.reports: unknown key"},
      {replace(rx, "role = \"receiver\"", "role = \"relay\""),
       "rx.toml:7:1: deliver: only a receiver has [deliver]"},
  };
  for (const auto& k : cases) {
    auto r = parse(k.text, "rx.toml");
    ASSERT_FALSE(r.ok()) << k.reason;
    EXPECT_EQ(r.status().reason(), k.reason);
  }
}

TEST(Config, NonLoopbackNeedsAnExplicitDecision) {
  std::string text = replace(gateway_config(), "listen = \"tcp://127.0.0.1:7001\"",
                             "listen = \"tcp://10.1.2.3:7001\"");
  EXPECT_FALSE(parse(text, "g.toml").ok());
  text = replace(text, "role = \"gateway\"", "role = \"gateway\"\nallow_non_loopback = true");
  EXPECT_TRUE(parse(text, "g.toml").ok());
}

TEST(Config, MissingFileIsAnIoError) {
  auto r = load("/nonexistent/cellgate.toml");
  EXPECT_EQ(r.status().code(), Code::io);
}

TEST(Config, OversizedIsRefused) {
  std::string big(2u << 20, '#');
  EXPECT_EQ(parse(big, "big.toml").status().reason(), "big.toml: larger than 1048576 bytes");
}

}  // namespace
}  // namespace cg::config

namespace cg::config {
namespace {

// A FIFO given as the config blocked `config check` and `run` forever; a directory or a device
// is no config either. Each is refused at once, naming what it is.
TEST(ConfigLoad, SpecialFilesAreRefusedWithoutBlocking) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("cg-config-special-" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  const std::string fifo = dir + "/node.toml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto c = load(fifo);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::io);
  EXPECT_NE(c.status().reason().find("not a regular file (a FIFO)"), std::string::npos)
      << c.status().reason();
  auto d = load(dir);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().reason().find("not a regular file (a directory)"), std::string::npos);
  auto n = load("/dev/null");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().reason().find("not a regular file (a device)"), std::string::npos);
  EXPECT_TRUE(regular_file("/dev/zero").code() == Code::io);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cg::config
