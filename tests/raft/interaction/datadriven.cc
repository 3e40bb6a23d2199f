#include "tests/raft/interaction/datadriven.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace keel::datadriven {
namespace {

constexpr char kSeparator[] = "----";

bool IsBlankOrComment(const std::string& line) {
  absl::string_view s = absl::StripAsciiWhitespace(line);
  return s.empty() || s[0] == '#';
}

bool IsBlank(const std::string& line) { return absl::StripAsciiWhitespace(line).empty(); }

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// Trailing newlines carry no meaning in an output: the block's blank line ends it.
std::string TrimTrailingNewlines(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

const CmdArg* TestData::Find(const std::string& key) const {
  for (const CmdArg& a : args) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

bool ParseCommandLine(const std::string& line, std::string* cmd, std::vector<CmdArg>* args,
                      std::string* error) {
  // Split on spaces outside parentheses, so `voters=(1, 2)` stays one token.
  std::vector<std::string> tokens;
  std::string cur;
  int depth = 0;
  for (char c : line) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth < 0) {
      *error = "unbalanced ')'";
      return false;
    }
    if ((c == ' ' || c == '\t') && depth == 0) {
      if (!cur.empty()) tokens.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (depth != 0) {
    *error = "unbalanced '('";
    return false;
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  if (tokens.empty()) {
    *error = "empty command";
    return false;
  }
  *cmd = tokens[0];
  args->clear();
  for (size_t i = 1; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    CmdArg arg;
    size_t eq = t.find('=');
    if (eq == std::string::npos) {
      arg.key = t;
      arg.positional = true;
    } else {
      arg.key = t.substr(0, eq);
      std::string val = t.substr(eq + 1);
      if (val.size() >= 2 && val.front() == '(' && val.back() == ')') {
        absl::string_view inner(val.data() + 1, val.size() - 2);
        for (absl::string_view v : absl::StrSplit(inner, ',', absl::SkipWhitespace())) {
          arg.vals.emplace_back(absl::StripAsciiWhitespace(v));
        }
      } else {
        arg.vals.push_back(std::move(val));
      }
    }
    args->push_back(std::move(arg));
  }
  return true;
}

bool ParseFile(const std::string& path, const std::string& text, ParsedFile* out,
               std::string* error) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  // A final newline does not start another (empty) line.
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  out->blocks.clear();
  size_t i = 0;
  std::string prefix;
  while (true) {
    while (i < lines.size() && IsBlankOrComment(lines[i])) prefix += lines[i++] + "\n";
    if (i == lines.size()) break;
    ParsedFile::Block block;
    block.prefix = std::move(prefix);
    prefix.clear();
    block.data.pos = absl::StrCat(path, ":", i + 1);
    if (!ParseCommandLine(lines[i], &block.data.cmd, &block.data.args, error)) {
      *error = absl::StrCat(block.data.pos, ": ", *error);
      return false;
    }
    block.header = lines[i++] + "\n";
    std::vector<std::string> input;
    while (i < lines.size() && lines[i] != kSeparator) {
      input.push_back(lines[i]);
      block.header += lines[i++] + "\n";
    }
    if (i == lines.size()) {
      *error = absl::StrCat(block.data.pos, ": command without a '", kSeparator, "' line");
      return false;
    }
    ++i;  // the separator
    block.data.input = absl::StrJoin(input, "\n");
    std::vector<std::string> expected;
    while (i < lines.size() && !IsBlank(lines[i])) expected.push_back(lines[i++]);
    block.data.expected = absl::StrJoin(expected, "\n");
    out->blocks.push_back(std::move(block));
  }
  out->trailer = std::move(prefix);
  return true;
}

std::string LineDiff(const std::string& expected, const std::string& actual) {
  std::vector<std::string> a = absl::StrSplit(expected, '\n');
  std::vector<std::string> b = absl::StrSplit(actual, '\n');
  // Longest common subsequence table, filled from the end so the walk below goes forward.
  std::vector<std::vector<int>> lcs(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      absl::StrAppend(&out, "  ", a[i++], "\n");
      ++j;
    } else if (j < b.size() && (i == a.size() || lcs[i][j + 1] >= lcs[i + 1][j])) {
      absl::StrAppend(&out, "+ ", b[j++], "\n");
    } else {
      absl::StrAppend(&out, "- ", a[i++], "\n");
    }
  }
  return out;
}

RunResult RunFile(const std::string& path, const Handler& handler, bool rewrite) {
  RunResult result;
  std::string text;
  if (!ReadWholeFile(path, &text)) {
    result.failures.push_back(absl::StrCat(path, ": cannot read"));
    return result;
  }
  ParsedFile parsed;
  std::string error;
  if (!ParseFile(path, text, &parsed, &error)) {
    result.failures.push_back(error);
    return result;
  }
  std::string rewritten;
  for (ParsedFile::Block& block : parsed.blocks) {
    ++result.blocks;
    std::string actual = TrimTrailingNewlines(handler(block.data));
    if (actual.empty()) actual = "ok";
    if (actual.find("\n\n") != std::string::npos) {
      // A blank line would end the block early when the file is read back.
      result.failures.push_back(absl::StrCat(block.data.pos, ": ", block.data.cmd,
                                             ": output contains a blank line:\n", actual));
    }
    if (rewrite) {
      absl::StrAppend(&rewritten, block.prefix, block.header, kSeparator, "\n", actual, "\n");
    } else if (actual != block.data.expected) {
      result.failures.push_back(absl::StrCat(
          block.data.pos, ": output of `", block.header.substr(0, block.header.find('\n')),
          "` differs (- expected, + actual):\n", LineDiff(block.data.expected, actual)));
    }
  }
  if (rewrite) {
    absl::StrAppend(&rewritten, parsed.trailer);
    if (rewritten != text) {
      std::ofstream outf(path, std::ios::binary | std::ios::trunc);
      outf << rewritten;
      if (!outf) result.failures.push_back(absl::StrCat(path, ": cannot write"));
    }
  }
  return result;
}

}  // namespace keel::datadriven
