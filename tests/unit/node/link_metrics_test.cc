// The link's counters as the node exports them (the link lists them, the node registers them:
// the link does not depend on the metrics module).
#include <gtest/gtest.h>

#include <string>

#include "gateway/link/link.h"
#include "gateway/metrics/metrics.h"
#include "gateway/node/node_common.h"

namespace cg::node {
namespace {

TEST(LinkMetrics, CountersAreExportedByName) {
  metrics::Registry registry;
  link::SenderCounters sender;
  link::ReceiverCounters receiver;
  receiver.frames_bad_mac = 3;
  sender.bytes_sent = 1472;
  register_link_metrics(registry, "il-us", &sender, &receiver);
  const std::string text = registry.render();
  EXPECT_NE(text.find("cellgate_link_frames_bad_mac_total{link=\"il-us\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("cellgate_link_bytes_sent_total{link=\"il-us\"} 1472\n"), std::string::npos);
  EXPECT_NE(text.find("cellgate_link_blocks_recovered_fec_total"), std::string::npos);
}

}  // namespace
}  // namespace cg::node
