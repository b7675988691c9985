# Messages between cellgate and the systems at its edges over ZeroMQ: sources submitting items
# to a gateway, and a receiver delivering items to consumers. Each ZeroMQ message part is one
# of these structs in standard Cap'n Proto framing.
@0xcdf5f3c92b4833ee;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cg::schema");

enum AckResult {
  unspecified @0;
  accepted @1;   # durably stored; the source may forget the item
  rejected @2;   # not stored; `reason` says why; resending unchanged will fail the same way,
                 # except for `overloaded`, which invites a retry later
}

enum RejectReason {
  none @0;
  malformed @1;       # did not decode or broke a structural rule (detail names the field)
  tooLarge @2;        # above the gateway's item size limit
  unknownSource @3;   # the item's `source` is not the source the connection authenticated as
  overloaded @4;      # the gateway's durable store is full; retry later
  storeFailed @5;     # an I/O error while storing; retry later
}

struct SubmitAck {
  itemId @0 :Data;        # the item's id when it could be read, else empty
  result @1 :AckResult;
  reason @2 :RejectReason;
  detail @3 :Text;        # for people: the exact reason
  ingestSeq @4 :UInt64;   # the item's position in the gateway's durable inbox (accepted only)
}

struct Delivery {
  # One released item, as the receiver delivers it to a consumer.
  origin @0 :Text;
  stream @1 :UInt32;
  seq @2 :UInt64;
  logIndex @3 :UInt64;    # the relay's transparency-log index of the envelope
  item @4 :Data;          # canonical bytes of the released Item
  deliveryId @5 :UInt64;  # the receiver's queue position; echoed in the ack
}

struct DeliveryAck {
  origin @0 :Text;
  stream @1 :UInt32;
  seq @2 :UInt64;
  deliveryId @3 :UInt64;
}

struct ConsumerMessage {
  # What a consumer sends to a receiver. `ready` opens (or re-opens, after a restart) the
  # consumer's window: how many unacknowledged deliveries it will hold. `ack` confirms one
  # delivery, which the receiver then deletes from its durable queue.
  union {
    ready @0 :UInt32;
    ack @1 :DeliveryAck;
  }
}
