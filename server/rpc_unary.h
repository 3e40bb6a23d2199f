// Unary RPCs on the async API: what a handler sees (UnaryContext, UnaryReactor) and the call
// object that requests, dispatches and answers one call (ServeUnary).
//
// A handler has the shape of a callback-API handler, so a service reads the same:
//   void Range(UnaryContext* context, const RangeRequest* request, RangeResponse* response);
// It fills `response` and calls context->DefaultReactor()->Finish(status) exactly once, at
// once or later from any thread. Request and response live until then.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <utility>

#include "server/rpc_loop.h"

namespace keel::server {

// The one answer of a unary call.
class UnaryReactor {
 public:
  virtual void Finish(const grpc::Status& status) = 0;

 protected:
  ~UnaryReactor() = default;
};

class UnaryContext {
 public:
  virtual UnaryReactor* DefaultReactor() = 0;
  virtual const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata() const = 0;

 protected:
  ~UnaryContext() = default;
};

template <typename Request, typename Response>
struct UnaryMethod {
  // Asks gRPC for the next call of this method, completed on the loop's queue: the generated
  // Request<Method> bound to its service and the queue.
  std::function<void(grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Response>*,
                     void*)>
      request;
  std::function<void(UnaryContext*, const Request*, Response*)> handler;
};

// One call: waits for a request, starts waiting for the next one, runs the handler, sends
// the answer, and deletes itself once gRPC is done with it.
template <typename Request, typename Response>
class UnaryCall final : public RpcTag, public UnaryContext, public UnaryReactor {
 public:
  static void Listen(const UnaryMethod<Request, Response>* method) { new UnaryCall(method); }

  void Proceed(bool ok) override {
    if (started_ || !ok) {  // the answer went out (or the server is shutting down)
      delete this;
      return;
    }
    started_ = true;
    Listen(method_);
    method_->handler(this, &request_, &response_);
  }

  UnaryReactor* DefaultReactor() override { return this; }
  const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata() const override {
    return context_.client_metadata();
  }
  void Finish(const grpc::Status& status) override {
    if (status.ok()) {
      writer_.Finish(response_, status, this);
    } else {
      writer_.FinishWithError(status, this);
    }
  }

 private:
  explicit UnaryCall(const UnaryMethod<Request, Response>* method) : method_(method) {
    method_->request(&context_, &request_, &writer_, this);
  }
  ~UnaryCall() = default;

  const UnaryMethod<Request, Response>* method_;
  grpc::ServerContext context_;
  Request request_;
  Response response_;
  grpc::ServerAsyncResponseWriter<Response> writer_{&context_};
  bool started_ = false;  // only the loop's thread touches it
};

// Starts serving a method: `listeners` calls wait for requests at any time, so a burst of
// new calls does not queue inside gRPC for its turn. `method` must outlive the server.
template <typename Request, typename Response>
void ServeUnary(const UnaryMethod<Request, Response>* method, int listeners = 1) {
  for (int i = 0; i < listeners; ++i) UnaryCall<Request, Response>::Listen(method);
}

}  // namespace keel::server
