// Bidirectional streams on the async API, behind the callback API's reactor surface.
//
// A stream's reactor derives from BidiReactor<Request, Response> and is written as for
// grpc::ServerBidiReactor: StartRead / StartWrite / Finish from any thread (one read and one
// write in flight at a time), OnReadDone / OnWriteDone / OnDone / OnCancel run on the RPC
// loop's thread. Operations started before gRPC hands the reactor its call (in the
// constructor, say) are held and started then. OnDone comes last, once the stream is
// finished and no operation is in flight; the reactor may delete itself there.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <mutex>
#include <optional>

#include "base/check.h"
#include "server/rpc_loop.h"

namespace keel::server {

template <typename Request, typename Response>
class BidiCall;

template <typename Request, typename Response>
class BidiReactor {
 public:
  virtual ~BidiReactor() = default;

  void StartRead(Request* request) {
    if (BidiCall<Request, Response>* call = CallOrHold([&] { held_read_ = request; })) {
      call->Read(request);
    }
  }
  void StartWrite(const Response* response) {
    if (BidiCall<Request, Response>* call = CallOrHold([&] { held_write_ = response; })) {
      call->Write(response);
    }
  }
  void Finish(grpc::Status status) {
    if (BidiCall<Request, Response>* call = CallOrHold([&] { held_finish_ = status; })) {
      call->Finish(std::move(status));
    }
  }

  virtual void OnReadDone(bool /*ok*/) {}
  virtual void OnWriteDone(bool /*ok*/) {}
  virtual void OnCancel() {}
  virtual void OnDone() = 0;

 private:
  friend class BidiCall<Request, Response>;

  template <typename Hold>
  BidiCall<Request, Response>* CallOrHold(Hold hold) {
    std::lock_guard<std::mutex> lock(bind_mu_);
    if (call_ == nullptr) hold();
    return call_;
  }

  // Called once by the call: starts what was held, in the order a stream allows.
  void Bind(BidiCall<Request, Response>* call) {
    Request* read;
    const Response* write;
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(bind_mu_);
      call_ = call;
      read = held_read_;
      write = held_write_;
      finish = std::move(held_finish_);
    }
    if (read != nullptr) call->Read(read);
    if (write != nullptr) call->Write(write);
    if (finish) call->Finish(std::move(*finish));
  }

  std::mutex bind_mu_;
  BidiCall<Request, Response>* call_ = nullptr;  // guarded by bind_mu_; set once
  Request* held_read_ = nullptr;
  const Response* held_write_ = nullptr;
  std::optional<grpc::Status> held_finish_;
};

template <typename Request, typename Response>
struct BidiMethod {
  // As UnaryMethod::request.
  std::function<void(grpc::ServerContext*, grpc::ServerAsyncReaderWriter<Response, Request>*,
                     void*)>
      request;
  // Makes the reactor for a new stream (it may refuse the stream by finishing at once).
  std::function<BidiReactor<Request, Response>*(grpc::ServerContext*)> make_reactor;
};

// One stream's call: owns the gRPC side and relays its completions to the reactor.
template <typename Request, typename Response>
class BidiCall {
 public:
  static void Listen(const BidiMethod<Request, Response>* method) { new BidiCall(method); }

 private:
  friend class BidiReactor<Request, Response>;
  enum class Op { kStart, kRead, kWrite, kFinish, kDone };

  struct Tag final : RpcTag {
    BidiCall* call;
    Op op;
    Tag(BidiCall* c, Op o) : call(c), op(o) {}
    void Proceed(bool ok) override { call->Completed(op, ok); }
  };

  explicit BidiCall(const BidiMethod<Request, Response>* method) : method_(method) {
    // Delivered once the call is over (finished or cancelled), only if it ever started.
    context_.AsyncNotifyWhenDone(&done_tag_);
    method_->request(&context_, &stream_, &start_tag_);
  }

  void Read(Request* request) {
    Begin();
    stream_.Read(request, &read_tag_);
  }
  void Write(const Response* response) {
    Begin();
    stream_.Write(*response, &write_tag_);
  }
  void Finish(grpc::Status status) {
    Begin();
    stream_.Finish(status, &finish_tag_);
  }
  void Begin() {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }

  void Completed(Op op, bool ok) {
    switch (op) {
      case Op::kStart:
        if (!ok) {  // the server is shutting down; the call never started
          delete this;
          return;
        }
        Listen(method_);
        reactor_ = method_->make_reactor(&context_);
        reactor_->Bind(this);
        return;
      case Op::kRead:
        reactor_->OnReadDone(ok);
        break;
      case Op::kWrite:
        reactor_->OnWriteDone(ok);
        break;
      case Op::kFinish:
        break;
      case Op::kDone:
        if (context_.IsCancelled()) reactor_->OnCancel();
        break;
    }
    bool over;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (op == Op::kDone) {
        call_done_ = true;
      } else {
        KEEL_CHECK(in_flight_ > 0) << "a completion gRPC was not holding";
        --in_flight_;
        if (op == Op::kFinish) finished_ = true;
      }
      over = call_done_ && finished_ && in_flight_ == 0;
    }
    if (over) {
      reactor_->OnDone();
      delete this;
    }
  }

  const BidiMethod<Request, Response>* method_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<Response, Request> stream_{&context_};
  BidiReactor<Request, Response>* reactor_ = nullptr;  // set on the loop's thread at start
  Tag start_tag_{this, Op::kStart};
  Tag read_tag_{this, Op::kRead};
  Tag write_tag_{this, Op::kWrite};
  Tag finish_tag_{this, Op::kFinish};
  Tag done_tag_{this, Op::kDone};
  std::mutex mu_;
  int in_flight_ = 0;       // guarded by mu_: reads, writes and the finish gRPC still holds
  bool finished_ = false;   // guarded by mu_: the finish completed
  bool call_done_ = false;  // guarded by mu_: gRPC reported the call over
};

template <typename Request, typename Response>
void ServeBidi(const BidiMethod<Request, Response>* method, int listeners = 1) {
  for (int i = 0; i < listeners; ++i) BidiCall<Request, Response>::Listen(method);
}

}  // namespace keel::server
