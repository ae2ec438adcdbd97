#pragma once
// Syntax of Einsum expressions and param expressions: a small recursive-descent parser producing an AST
// whose nodes remember their column, so that semantic errors can point at the offending token.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace einsim {

struct Expr {
  enum class Kind {
    number,  // value
    name,    // a param, constant or index variable: name
    access,  // name[args...]
    unary,   // op '-' on args[0]
    binary,  // op in + - * / on args[0], args[1]
    call,    // name(args...)
    reduce,  // name in max/min/sum over `vars`, body args[0]
  };
  Kind kind = Kind::number;
  double value = 0;
  std::string name;
  char op = 0;
  std::vector<Expr> args;
  std::vector<std::string> vars;
  std::vector<int> var_cols;
  int col = 0;  // 0-based offset into the source text
};

// One comparison of a `where` clause: lhs rel rhs, rel one of <= < >= > ==.
struct Comparison {
  Expr lhs;
  Expr rhs;
  std::string rel;
  int col = 0;  // of the operator
};

struct EinsumSyntax {
  Expr lhs;  // an access
  Expr rhs;
  std::vector<Comparison> where;  // `... where m <= p and ...`: the points it computes
  int where_col = -1;             // of the keyword `where`
  Expr guard;                     // `... when G[b,j]`: an access, the elements computed (when guard_col >= 0)
  int guard_col = -1;             // of the keyword `when`
};

// A syntax error: the message and its 0-based column in the parsed text.
struct SyntaxError {
  std::string message;
  int col = 0;
};

// Both throw SyntaxError.
EinsumSyntax parse_einsum(const std::string& text);
Expr parse_expression(const std::string& text);

// Evaluates an integer expression: numbers, names (through `lookup`, which throws for unknown names), + - * /
// (exact), unary -, min(a,b), max(a,b), cdiv(a,b). Results stay within +-2^53. `fail` receives the reason and
// must throw.
int64_t evaluate_integer(const Expr& e, const std::function<int64_t(const std::string&)>& lookup,
                         const std::function<void(const std::string&)>& fail);

// The same over reals, with + - * / and min, max: derived columns of results (tokens per second from a batch
// and a latency).
double evaluate_real(const Expr& e, const std::function<double(const std::string&)>& lookup,
                     const std::function<void(const std::string&)>& fail);

// Names an expression uses, in order of appearance (each once).
std::vector<std::string> names_in(const Expr& e);

// Renders an expression back to text (for messages).
std::string to_string(const Expr& e);

}  // namespace einsim
