// How the unary gRPC handlers answer: refused before raft, or proposed and answered from the
// applied response. Shared by the KV and Lease services.
#pragma once

#include <utility>

#include "keel/request.pb.h"
#include "server/rpc_unary.h"
#include "server/service_context.h"

namespace keel::server {

// Answers a request refused before it reached raft.
inline void Refuse(UnaryContext* context, const absl::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
}

// Proposes `request`; once applied, copies the applied response into `response`, fills its
// header (keeping the revision the apply set, else the current one) and finishes.
template <typename Response>
void ProposeAndReply(const ServiceContext* ctx, UnaryContext* context, serverpb::Request request,
                     Response* response) {
  auto* reactor = context->DefaultReactor();
  ctx->proposer->Propose(std::move(request), [ctx, response, reactor](ApplyResult r) {
    if (!r.status.ok()) {
      reactor->Finish(ToGrpc(r.status));
      return;
    }
    response->CopyFrom(*r.response);
    ctx->FillHeader(response->mutable_header(), response->header().revision());
    reactor->Finish(grpc::Status::OK);
  });
}

}  // namespace keel::server
