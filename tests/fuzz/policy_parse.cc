// Fuzz target: releasability policy files (gateway/policy Policy::parse, TOML via toml++, rule
// validation, Hyperscan compilation). A policy that loads is then used: the sample item is
// decided for every destination, released and explained, so the loader cannot accept a policy
// the engine cannot run.
#include <capnp/message.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/policy/policy.h"
#include "gateway/wire/wire.h"
#include "tests/support/items.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cg::policy;  // NOLINT(google-build-using-namespace)
  auto p = Policy::parse({reinterpret_cast<const char*>(data), size}, "fuzz.toml");
  if (!p.ok()) {
    if (p.status().code() != cg::Code::malformed) std::abort();
    if (p.status().reason().rfind("fuzz.toml", 0) != 0) std::abort();  // always located
    return 0;
  }
  const Policy& policy = **p;
  if (policy.destinations().empty() || policy.levels().empty()) std::abort();
  if (policy.canonical_bytes().size() != size) std::abort();
  auto eval = Evaluator::create(policy);
  if (!eval.ok()) return 0;
  capnp::MallocMessageBuilder m;
  auto item = m.initRoot<cg::schema::Item>();
  cg::testing::fill_sample_item(item);
  Decision d;
  for (std::uint32_t dest = 0; dest < policy.destinations().size(); ++dest) {
    eval->decide(item.asReader(), dest, item.getCreated(), d);
    (void)explain_text(policy, item.asReader(), d);
    (void)explain_json(policy, item.asReader(), d);
    if (d.outcome != Outcome::release) continue;
    capnp::MallocMessageBuilder out;
    auto released = out.initRoot<cg::schema::Item>();
    build_released(policy, item.asReader(), d, released);
    if (!cg::wire::validate_item(released.asReader()).ok()) std::abort();
  }
  return 0;
}
