// TaskQueue: a bounded multi-producer queue with one or more worker threads running the tasks.
// Used where work must leave a thread that may not block (gRPC callbacks, the apply thread).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/thread_name.h"

namespace keel {

class TaskQueue {
 public:
  // `max_pending` bounds the queue; Post() past it runs the task on the caller's thread
  // (back-pressure instead of unbounded memory).
  // Workers are named `name` (for profilers and `top -H`).
  TaskQueue(int threads, size_t max_pending, std::string name = "keel-tasks")
      : max_pending_(max_pending) {
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this, name] {
        NameThisThread(name);
        Run();
      });
    }
  }
  ~TaskQueue() { Stop(); }
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_ && tasks_.size() < max_pending_) {
        tasks_.push_back(std::move(task));
        cv_.notify_one();
        return;
      }
    }
    task();
  }

  // Runs what is queued, then joins the workers.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      cv_.notify_all();
    }
    for (auto& t : workers_) t.join();
  }

 private:
  void Run() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  const size_t max_pending_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace keel
