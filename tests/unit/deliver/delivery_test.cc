// Delivery to consumers over real ZeroMQ on loopback: windows, acks, redelivery, restarts.
#include <gtest/gtest.h>

#include <filesystem>

#include "gateway/deliver/deliver.h"

namespace cg::deliver {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cg-delivery-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = *store::Env::open({.path = dir_.path()});
    outbox_ = std::make_unique<Outbox>(*Outbox::open(*env_));
    server_keys_ = edge::curve_keypair();
    consumer_keys_ = edge::curve_keypair();
    start_server();
  }

  void start_server() {
    server_.reset();
    ServerOptions o;
    o.secret_z85 = server_keys_.secret_z85;
    o.consumers = {{"sy-consumer", consumer_keys_.public_z85}};
    o.redeliver_after_ms = 5'000;
    server_ = std::make_unique<DeliveryServer>(o, *outbox_, clock_);
    ASSERT_TRUE(server_->start().ok());
  }

  void enqueue(int n) {
    auto txn = env_->begin_write();
    for (int i = 0; i < n; ++i) {
      std::vector<std::uint8_t> item = {static_cast<std::uint8_t>(next_seq_)};
      ASSERT_TRUE(outbox_->enqueue(*txn, "il-gw-1", 1, next_seq_, next_seq_, item).ok());
      ++next_seq_;
    }
    ASSERT_TRUE(txn->commit().ok());
  }

  std::unique_ptr<ConsumerClient> consumer(std::uint32_t window) {
    auto c = ConsumerClient::connect(server_->endpoint(), server_keys_.public_z85, consumer_keys_,
                                     window, 10'000);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? std::move(*c) : nullptr;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::Env> env_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<DeliveryServer> server_;
  edge::KeyPair server_keys_, consumer_keys_;
  std::uint64_t next_seq_ = 1;
};

TEST_F(DeliveryTest, DeliversInOrderAndForgetsWhatIsAcknowledged) {
  enqueue(20);
  auto c = consumer(8);
  ASSERT_NE(c, nullptr);
  for (std::uint64_t want = 1; want <= 20; ++want) {
    auto d = c->receive(10'000);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_EQ(d->seq, want);
    EXPECT_EQ(d->origin, "il-gw-1");
    EXPECT_EQ(d->item, std::vector<std::uint8_t>{static_cast<std::uint8_t>(want)});
    ASSERT_TRUE(c->acknowledge(*d).ok());
  }
  for (int i = 0; i < 200 && *outbox_->size() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(*outbox_->size(), 0u);
  EXPECT_EQ(server_->counters().acknowledged.load(), 20u);
}

TEST_F(DeliveryTest, WindowBoundsWhatAConsumerHolds) {
  enqueue(10);
  auto c = consumer(3);
  ASSERT_NE(c, nullptr);
  std::vector<Delivered> got;
  for (;;) {
    auto d = c->receive(300);
    if (!d.ok()) break;
    got.push_back(*d);
  }
  EXPECT_EQ(got.size(), 3u);  // however long it waits, never more than its window unacked
  ASSERT_TRUE(c->acknowledge(got[0]).ok());
  auto d = c->receive(10'000);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->seq, 4u);
}

TEST_F(DeliveryTest, UnacknowledgedItemsAreDeliveredAgainAfterTheTimeout) {
  enqueue(2);
  auto c = consumer(8);
  ASSERT_NE(c, nullptr);
  auto first = c->receive(10'000);
  auto second = c->receive(10'000);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(c->acknowledge(*first).ok());
  // Not yet: nothing comes back before the redelivery timeout.
  EXPECT_FALSE(c->receive(300).ok());
  clock_.advance_ns(6 * ns_per_s);
  auto again = c->receive(10'000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->seq, second->seq);
  EXPECT_EQ(again->delivery_id, second->delivery_id);
  EXPECT_EQ(server_->counters().redelivered.load(), 1u);
}

TEST_F(DeliveryTest, RestartDeliversEverythingNotAcknowledged) {
  enqueue(5);
  {
    auto c = consumer(8);
    ASSERT_NE(c, nullptr);
    for (int i = 0; i < 5; ++i) {
      auto d = c->receive(10'000);
      ASSERT_TRUE(d.ok());
      if (d->seq <= 2) ASSERT_TRUE(c->acknowledge(*d).ok());
    }
    for (int i = 0; i < 200 && *outbox_->size() > 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  start_server();  // the receiver restarts; the consumer reconnects
  auto c = consumer(8);
  ASSERT_NE(c, nullptr);
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 3; ++i) {
    auto d = c->receive(10'000);
    ASSERT_TRUE(d.ok());
    seqs.push_back(d->seq);
  }
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{3, 4, 5}));
}

TEST_F(DeliveryTest, UnknownConsumerIsRefused) {
  auto stranger = edge::curve_keypair();
  auto c =
      ConsumerClient::connect(server_->endpoint(), server_keys_.public_z85, stranger, 8, 10'000);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::unauthenticated);
  EXPECT_GE(server_->counters().auth_failures.load(), 1u);
}

TEST(ConsumerMessages, MalformedOnesAreRejected) {
  const std::uint8_t junk[16] = {0xff};
  EXPECT_EQ(parse_consumer_message(junk).status().code(), Code::malformed);
  EXPECT_EQ(parse_delivery(junk).status().code(), Code::malformed);
}

}  // namespace
}  // namespace cg::deliver
