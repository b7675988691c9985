// Test support: well-formed items to start from, and helpers to serialise them.
// Tests mutate a builder from sample_item() and check what the decoder says.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <vector>

#include "schemas/item.capnp.h"

namespace cg::testing {

// Fills `item` with a valid intelligence item: banner SECRET(2) with restrictive {"OPS"},
// REL TO {"IL","US"}, TLP amber; two text portions: "summary" (level 1, REL TO IL/SY/US,
// required) and "detail" (level 2, OPS, REL TO IL/US, not required); two topics;
// a point area; two attributes. Deterministic: the same bytes every call.
void fill_sample_item(schema::Item::Builder item);

// The serialised (standard framing) bytes of a builder's message.
std::vector<std::uint8_t> flat_bytes(capnp::MessageBuilder& message);

}  // namespace cg::testing
