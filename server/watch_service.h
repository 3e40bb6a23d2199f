// The etcd Watch service (etcdserverpb.Watch): one bidirectional stream carries many
// watches. A thin reactor over watch::WatchHub: it decodes requests into hub calls and
// writes the hub's updates for the stream, one write in flight at a time. The hub bounds
// what a stream may hold unsent and moves watchers of a slow stream to catch-up from history,
// so a slow client never blocks the apply thread or other streams (docs/watch.md).
#pragma once

#include <mutex>
#include <set>

#include "etcd/rpc.grpc.pb.h"
#include "server/rpc_bidi.h"
#include "server/service_context.h"
#include "watch/hub.h"

namespace keel::server {

// The method is registered raw (ByteBuffer in and out): a response is written as its own
// header bytes followed by the pre-serialized events of the hub's shared EventBatch, so an
// event fanned out to 10,000 watchers is serialized once, not 10,000 times.
class WatchService final {
 public:
  WatchService(const ServiceContext* ctx, watch::WatchHub* hub) : ctx_(ctx), hub_(hub) {}

  BidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Watch(grpc::ServerContext* context);

  // Ends every open stream (Unavailable, after the write in flight), so a stopping server
  // need not wait out its shutdown deadline for watches that never end by themselves.
  void FinishAll();

  class Reactor;  // watch_service.cc

 private:
  friend class Reactor;
  const ServiceContext* ctx_;
  watch::WatchHub* hub_;
  std::mutex mu_;
  std::set<Reactor*> reactors_;  // guarded by mu_; a reactor leaves in its OnDone
};

}  // namespace keel::server
