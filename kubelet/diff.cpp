#include "kubelet/diff.hpp"

#include <algorithm>
#include <vector>

namespace kcd::kubelet {

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size() - 1;
    lines.push_back(text.substr(start, end - start + 1));
    start = end + 1;
  }
  return lines;
}

enum class Op { Keep, Del, Add };
struct Edit {
  Op op;
  std::size_t a;  // index in before (Keep, Del)
  std::size_t b;  // index in after (Keep, Add)
};

// Myers' greedy shortest edit script, with the trace kept for backtracking. The edit distance
// is bounded: past kMaxD the texts are reported as fully replaced (still a correct diff).
std::vector<Edit> shortest_edit(const std::vector<std::string_view>& a,
                                const std::vector<std::string_view>& b) {
  const long n = static_cast<long>(a.size());
  const long m = static_cast<long>(b.size());
  const long max = n + m;
  constexpr long kMaxD = 2000;
  std::vector<std::vector<long>> trace;
  std::vector<long> v(static_cast<std::size_t>(2 * max + 2), 0);
  const long off = max + 1;
  long found_d = -1;
  for (long d = 0; d <= std::min(max, kMaxD); ++d) {
    // Only diagonals -d..d can matter at step d: keep those, not all of v (O(D^2), not O(N*D),
    // memory: a 100,000-line file would need gigabytes otherwise).
    trace.emplace_back(v.begin() + (off - d), v.begin() + (off + d + 1));
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && v[static_cast<std::size_t>(off + k - 1)] <
                                          v[static_cast<std::size_t>(off + k + 1)]))
                   ? v[static_cast<std::size_t>(off + k + 1)]
                   : v[static_cast<std::size_t>(off + k - 1)] + 1;
      long y = x - k;
      while (x < n && y < m && a[static_cast<std::size_t>(x)] == b[static_cast<std::size_t>(y)]) ++x, ++y;
      v[static_cast<std::size_t>(off + k)] = x;
      if (x >= n && y >= m) {
        found_d = d;
        break;
      }
    }
    if (found_d >= 0) break;
  }
  std::vector<Edit> edits;
  if (found_d < 0) {
    for (std::size_t i = 0; i < a.size(); ++i) edits.push_back({Op::Del, i, 0});
    for (std::size_t j = 0; j < b.size(); ++j) edits.push_back({Op::Add, a.size(), j});
    return edits;
  }
  long x = n;
  long y = m;
  for (long d = found_d; d > 0; --d) {
    const std::vector<long>& pv = trace[static_cast<std::size_t>(d)];
    const auto at = [&](long diagonal) { return pv[static_cast<std::size_t>(diagonal + d)]; };
    const long k = x - y;
    const bool down = k == -d || (k != d && at(k - 1) < at(k + 1));
    const long pk = down ? k + 1 : k - 1;
    const long px = at(pk);
    const long py = px - pk;
    while (x > px + (down ? 0 : 1) && y > py + (down ? 1 : 0)) {
      --x, --y;
      edits.push_back({Op::Keep, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
    }
    if (down) {
      --y;
      edits.push_back({Op::Add, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
    } else {
      --x;
      edits.push_back({Op::Del, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
    }
  }
  while (x > 0 && y > 0) {
    --x, --y;
    edits.push_back({Op::Keep, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
  }
  std::reverse(edits.begin(), edits.end());
  return edits;
}

void put_line(std::string& out, char mark, std::string_view line) {
  out += mark;
  out.append(line.data(), line.size());
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, const std::string& name) {
  if (before == after) return {};
  const auto a = split_lines(before);
  const auto b = split_lines(after);
  const std::vector<Edit> edits = shortest_edit(a, b);
  constexpr std::size_t kContext = 3;
  std::string out = "--- a/" + name + "\n+++ b/" + name + "\n";
  std::size_t i = 0;
  while (i < edits.size()) {
    if (edits[i].op == Op::Keep) {
      ++i;
      continue;
    }
    // A hunk: from kContext lines before this change to kContext lines after the last change
    // that is at most 2*kContext unchanged lines from the next.
    std::size_t start = i >= kContext ? i - kContext : 0;
    while (start < i && edits[start].op != Op::Keep) ++start;
    std::size_t end = i;
    std::size_t keep_run = 0;
    for (std::size_t j = i; j < edits.size(); ++j) {
      if (edits[j].op == Op::Keep) {
        if (++keep_run > 2 * kContext) break;
      } else {
        keep_run = 0;
        end = j;
      }
    }
    const std::size_t stop = std::min(edits.size(), end + 1 + kContext);
    std::size_t a_start = 0, b_start = 0, a_len = 0, b_len = 0;
    bool first = true;
    for (std::size_t j = start; j < stop; ++j) {
      const Edit& e = edits[j];
      if (first) {
        a_start = e.a;
        b_start = e.b;
        first = false;
      }
      if (e.op != Op::Add) ++a_len;
      if (e.op != Op::Del) ++b_len;
    }
    out += "@@ -" + std::to_string(a_len ? a_start + 1 : a_start) + "," + std::to_string(a_len) + " +" +
           std::to_string(b_len ? b_start + 1 : b_start) + "," + std::to_string(b_len) + " @@\n";
    for (std::size_t j = start; j < stop; ++j) {
      const Edit& e = edits[j];
      if (e.op == Op::Keep) put_line(out, ' ', a[e.a]);
      if (e.op == Op::Del) put_line(out, '-', a[e.a]);
      if (e.op == Op::Add) put_line(out, '+', b[e.b]);
    }
    i = stop;
  }
  return out;
}

}  // namespace kcd::kubelet
