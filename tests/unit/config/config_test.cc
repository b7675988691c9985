// Node configuration: whole or nothing, and every mistake named with file:line:col.
#include "gateway/config/config.h"

#include <gtest/gtest.h>

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
       "g.toml:4:8: node.role: must be gateway, relay or receiver"},
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
