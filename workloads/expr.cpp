#include "workloads/expr.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <cstdlib>

namespace einsim {
namespace {

struct Token {
  enum class Kind { ident, number, punct, end };
  Kind kind = Kind::end;
  std::string text;
  double value = 0;
  int col = 0;
};

std::vector<Token> lex(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.col = static_cast<int>(i);
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      t.kind = Token::Kind::ident;
      t.text = s.substr(i, j - i);
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      char* end = nullptr;
      t.value = std::strtod(s.c_str() + i, &end);
      const size_t j = static_cast<size_t>(end - s.c_str());
      t.kind = Token::Kind::number;
      t.text = s.substr(i, j - i);
      i = j;
    } else if ((c == '<' || c == '>' || c == '=') && i + 1 < s.size() && s[i + 1] == '=') {
      t.kind = Token::Kind::punct;  // <= >= ==
      t.text = s.substr(i, 2);
      i += 2;
    } else if (std::string_view("+-*/()[],=<>").find(c) != std::string_view::npos) {
      t.kind = Token::Kind::punct;
      t.text = std::string(1, c);
      ++i;
    } else {
      throw SyntaxError{fmt::format("unexpected character '{}'", c), static_cast<int>(i)};
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.col = static_cast<int>(s.size());
  out.push_back(end);
  return out;
}

bool is_reduction_name(const std::string& n) { return n == "max" || n == "min" || n == "sum" || n == "topk"; }

bool is_relation(const std::string& t) { return t == "<=" || t == "<" || t == ">=" || t == ">" || t == "=="; }

class Parser {
 public:
  explicit Parser(const std::string& text) : toks_(lex(text)) {}

  EinsumSyntax einsum() {
    EinsumSyntax out;
    const Token& t = peek();
    if (t.kind != Token::Kind::ident) fail("expected the output tensor, such as Z[m,n]");
    out.lhs = primary();
    if (out.lhs.kind != Expr::Kind::access)
      fail_at("the left-hand side must be a tensor access such as Z[m,n]", out.lhs.col);
    expect("=", "expected '=' after the output tensor");
    out.rhs = rhs();
    // Then `where` comparisons and a `when` guard, in either order, each at most once.
    while (peek().kind == Token::Kind::ident && (peek().text == "where" || peek().text == "when")) {
      if (peek().text == "when") {
        if (out.guard_col >= 0) fail("one guard per Einsum: 'when' takes one tensor access");
        out.guard_col = next().col;
        if (peek().kind != Token::Kind::ident) fail("expected the guard tensor, such as 'when F[b,h]'");
        out.guard = primary();
        if (out.guard.kind != Expr::Kind::access)
          fail_at("expected the guard tensor, such as 'when F[b,h]'", out.guard.col);
        continue;
      }
      if (out.where_col >= 0) fail("one where clause per Einsum: join comparisons with 'and'");
      out.where_col = next().col;
      do {
        Comparison c;
        c.lhs = expr();
        const Token rel = peek();
        if (rel.kind != Token::Kind::punct || !is_relation(rel.text))
          fail("expected a comparison such as 'm <= p' (<=, <, >=, > or ==)");
        next();
        c.rel = rel.text;
        c.col = rel.col;
        c.rhs = expr();
        out.where.push_back(std::move(c));
      } while (peek().kind == Token::Kind::ident && peek().text == "and" && (next(), true));
    }
    if (peek().kind != Token::Kind::end) fail(fmt::format("unexpected '{}'", peek().text));
    return out;
  }

  Expr whole_expression() {
    Expr e = expr();
    if (peek().kind != Token::Kind::end) fail(fmt::format("unexpected '{}'", peek().text));
    return e;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return toks_[std::min(pos_ + ahead, toks_.size() - 1)]; }
  Token next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
  bool accept(const char* p) {
    if (peek().kind == Token::Kind::punct && peek().text == p) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(const char* p, const std::string& message) {
    if (!accept(p)) fail(message);
  }
  [[noreturn]] void fail(const std::string& message) const { fail_at(message, peek().col); }
  [[noreturn]] static void fail_at(const std::string& message, int col) { throw SyntaxError{message, col}; }

  static bool starts_operand(const Token& t) {
    return (t.kind == Token::Kind::ident && t.text != "where" && t.text != "when") || t.kind == Token::Kind::number ||
           (t.kind == Token::Kind::punct && t.text == "(");
  }

  // rhs := ('max'|'min'|'sum'|'topk') '(' ident {',' ident} ')' expr | expr
  Expr rhs() {
    if (peek().kind == Token::Kind::ident && is_reduction_name(peek().text) && peek(1).text == "(") {
      const size_t save = pos_;
      Expr r;
      r.kind = Expr::Kind::reduce;
      r.col = peek().col;
      r.name = next().text;
      next();  // (
      bool all_names = true;
      do {
        if (peek().kind != Token::Kind::ident || (peek(1).text != "," && peek(1).text != ")")) {
          all_names = false;
          break;
        }
        r.var_cols.push_back(peek().col);
        r.vars.push_back(next().text);
      } while (accept(","));
      if (all_names && accept(")") && starts_operand(peek())) {
        r.args.push_back(expr());
        return r;
      }
      pos_ = save;  // an ordinary call such as max(a, b)
    }
    return expr();
  }

  Expr binary(char op, Expr a, Expr b, int col) {
    Expr e;
    e.kind = Expr::Kind::binary;
    e.op = op;
    e.col = col;
    e.args.push_back(std::move(a));
    e.args.push_back(std::move(b));
    return e;
  }

  Expr expr() {
    Expr e = term();
    while (peek().kind == Token::Kind::punct && (peek().text == "+" || peek().text == "-")) {
      const Token op = next();
      e = binary(op.text[0], std::move(e), term(), op.col);
    }
    return e;
  }

  Expr term() {
    Expr e = unary();
    while (peek().kind == Token::Kind::punct && (peek().text == "*" || peek().text == "/")) {
      const Token op = next();
      e = binary(op.text[0], std::move(e), unary(), op.col);
    }
    return e;
  }

  Expr unary() {
    if (++depth_ > kMaxDepth) fail("expression nested too deeply");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    if (peek().kind == Token::Kind::punct && peek().text == "-") {
      Expr e;
      e.kind = Expr::Kind::unary;
      e.op = '-';
      e.col = next().col;
      e.args.push_back(unary());
      return e;
    }
    return primary();
  }

  std::vector<Expr> arguments(const char* close) {
    std::vector<Expr> args;
    if (accept(close)) return args;
    do {
      args.push_back(expr());
    } while (accept(","));
    expect(close, fmt::format("expected ',' or '{}'", close));
    return args;
  }

  Expr primary() {
    const Token t = peek();
    Expr e;
    e.col = t.col;
    if (t.kind == Token::Kind::number) {
      next();
      e.kind = Expr::Kind::number;
      e.value = t.value;
      return e;
    }
    if (t.kind == Token::Kind::punct && t.text == "(") {
      next();
      e = expr();
      expect(")", "expected ')'");
      return e;
    }
    if (t.kind != Token::Kind::ident)
      fail(t.kind == Token::Kind::end ? "unexpected end of expression" : fmt::format("unexpected '{}'", t.text));
    next();
    e.name = t.text;
    if (accept("[")) {
      e.kind = Expr::Kind::access;
      e.args = arguments("]");
    } else if (accept("(")) {
      e.kind = Expr::Kind::call;
      e.args = arguments(")");
      if (is_reduction_name(e.name) && starts_operand(peek()))
        fail_at(fmt::format("a reduction '{}(...)' must be the whole right-hand side of the Einsum", e.name), e.col);
    } else {
      e.kind = Expr::Kind::name;
    }
    return e;
  }

  static constexpr int kMaxDepth = 256;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

EinsumSyntax parse_einsum(const std::string& text) { return Parser(text).einsum(); }

Expr parse_expression(const std::string& text) { return Parser(text).whole_expression(); }

namespace {

std::string render(const Expr& e, bool top) {
  auto list = [](const std::vector<Expr>& args) {
    std::string out;
    for (const Expr& a : args) out += (out.empty() ? "" : ",") + render(a, true);
    return out;
  };
  switch (e.kind) {
    case Expr::Kind::number:
      return fmt::format("{}", e.value);
    case Expr::Kind::name:
      return e.name;
    case Expr::Kind::access:
      return e.name + "[" + list(e.args) + "]";
    case Expr::Kind::unary:
      return "-" + render(e.args[0], false);
    case Expr::Kind::binary: {
      const std::string inner = render(e.args[0], false) + e.op + render(e.args[1], false);
      return top ? inner : "(" + inner + ")";
    }
    case Expr::Kind::call:
      return e.name + "(" + list(e.args) + ")";
    case Expr::Kind::reduce: {
      std::string vars;
      for (const std::string& v : e.vars) vars += (vars.empty() ? "" : ",") + v;
      return e.name + "(" + vars + ") " + render(e.args[0], true);
    }
  }
  return {};
}

}  // namespace

std::string to_string(const Expr& e) { return render(e, true); }

int64_t evaluate_integer(const Expr& e, const std::function<int64_t(const std::string&)>& lookup,
                         const std::function<void(const std::string&)>& fail) {
  constexpr double kLimit = 0x1p53;
  auto checked = [&](double v) {
    if (std::fabs(v) > kLimit) fail("overflows (integers stay below 2^53)");
    return static_cast<int64_t>(v);
  };
  auto recurse = [&](const Expr& x) { return evaluate_integer(x, lookup, fail); };
  switch (e.kind) {
    case Expr::Kind::number:
      if (std::floor(e.value) != e.value) fail(fmt::format("expected an integer, got {}", e.value));
      return checked(e.value);
    case Expr::Kind::name:
      return lookup(e.name);
    case Expr::Kind::unary:
      return -recurse(e.args[0]);
    case Expr::Kind::binary: {
      const int64_t a = recurse(e.args[0]), b = recurse(e.args[1]);
      switch (e.op) {
        case '+':
          return checked(static_cast<double>(a) + static_cast<double>(b));
        case '-':
          return checked(static_cast<double>(a) - static_cast<double>(b));
        case '*':
          return checked(static_cast<double>(a) * static_cast<double>(b));
        default:
          if (b == 0 || a % b != 0) fail(fmt::format("{} / {} is not an integer (use cdiv to round up)", a, b));
          return a / b;
      }
    }
    case Expr::Kind::call: {
      if (e.args.size() != 2 || (e.name != "min" && e.name != "max" && e.name != "cdiv" && e.name != "gcd"))
        fail(fmt::format("unknown function '{}' (integer expressions know min(a,b), max(a,b), cdiv(a,b), gcd(a,b))",
                         e.name));
      const int64_t a = recurse(e.args[0]), b = recurse(e.args[1]);
      if (e.name == "min") return std::min(a, b);
      if (e.name == "max") return std::max(a, b);
      // A block that divides both: gcd(M, 512) is the largest power of two up to 512 that divides M.
      if (e.name == "gcd") return std::gcd(a, b);
      if (b <= 0) fail(fmt::format("cdiv by {}", b));
      return (a + b - 1) / b;
    }
    default:
      fail(fmt::format("'{}' is not an integer expression", to_string(e)));
  }
  throw std::logic_error("unreachable");
}

double evaluate_real(const Expr& e, const std::function<double(const std::string&)>& lookup,
                     const std::function<void(const std::string&)>& fail) {
  auto recurse = [&](const Expr& x) { return evaluate_real(x, lookup, fail); };
  switch (e.kind) {
    case Expr::Kind::number:
      return e.value;
    case Expr::Kind::name:
      return lookup(e.name);
    case Expr::Kind::unary:
      return -recurse(e.args[0]);
    case Expr::Kind::binary: {
      const double a = recurse(e.args[0]), b = recurse(e.args[1]);
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        default:
          return a / b;  // IEEE: a zero divisor gives inf or nan, as a column of results should show
      }
    }
    case Expr::Kind::call: {
      if (e.args.size() != 2 || (e.name != "min" && e.name != "max"))
        fail(fmt::format("unknown function '{}' (real expressions know min(a,b), max(a,b))", e.name));
      const double a = recurse(e.args[0]), b = recurse(e.args[1]);
      return e.name == "min" ? std::min(a, b) : std::max(a, b);
    }
    default:
      fail(fmt::format("'{}' is not an arithmetic expression", to_string(e)));
  }
  throw std::logic_error("unreachable");
}

std::vector<std::string> names_in(const Expr& e) {
  std::vector<std::string> out;
  std::function<void(const Expr&)> walk = [&](const Expr& x) {
    if (x.kind == Expr::Kind::name && std::find(out.begin(), out.end(), x.name) == out.end()) out.push_back(x.name);
    for (const Expr& a : x.args) walk(a);
  };
  walk(e);
  return out;
}

}  // namespace einsim
