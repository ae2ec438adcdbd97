#include <gtest/gtest.h>

#include "workloads/expr.hpp"

namespace einsim {
namespace {

TEST(ExprParser, ImplicitSumIsAProductOfAccesses) {
  const EinsumSyntax s = parse_einsum("Z[m,n] = A[m,k] * B[k,n]");
  EXPECT_EQ(s.lhs.name, "Z");
  ASSERT_EQ(s.rhs.kind, Expr::Kind::binary);
  EXPECT_EQ(s.rhs.op, '*');
  EXPECT_EQ(to_string(s.rhs), "A[m,k]*B[k,n]");
}

TEST(ExprParser, ReductionFormIsTellsApartFromTwoArgumentMax) {
  const EinsumSyntax r = parse_einsum("LM[m1,p] = max(m0) BQK[m1,m0,p]");
  ASSERT_EQ(r.rhs.kind, Expr::Kind::reduce);
  EXPECT_EQ(r.rhs.name, "max");
  EXPECT_EQ(r.rhs.vars, std::vector<std::string>{"m0"});
  const EinsumSyntax m = parse_einsum("RM[m1+1,p] = max(RM[m1,p], LM[m1,p])");
  ASSERT_EQ(m.rhs.kind, Expr::Kind::call);
  EXPECT_EQ(m.rhs.args.size(), 2u);
  EXPECT_EQ(to_string(m.lhs), "RM[m1+1,p]");
}

TEST(ExprParser, PrecedenceAndUnaryMinus) {
  EXPECT_EQ(to_string(parse_expression("a + b * c - -d / 2")), "(a+(b*c))-(-d/2)");
  EXPECT_EQ(to_string(parse_expression("m1*M0+m0")), "(m1*M0)+m0");
  EXPECT_EQ(parse_expression("1e-5").value, 1e-5);
}

TEST(ExprParser, ErrorsCarryTheirColumn) {
  auto col_of = [](const std::string& text) {
    try {
      parse_einsum(text);
    } catch (const SyntaxError& e) {
      return e.col;
    }
    return -1;
  };
  EXPECT_EQ(col_of("Z[m] = A[m] *"), 13);           // unexpected end
  EXPECT_EQ(col_of("Z[m] = A[m] $ 2"), 12);         // bad character
  EXPECT_EQ(col_of("Z[m] A[m]"), 5);                // missing '='
  EXPECT_EQ(col_of("Z[m] = 1 + max(m) X[m]"), 11);  // reduction not at the top
  EXPECT_EQ(col_of("Z[m] = (A[m]"), 12);
}

TEST(ExprParser, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = "Z[m] = " + std::string(100000, '(') + "A[m]" + std::string(100000, ')');
  EXPECT_THROW(parse_einsum(deep), SyntaxError);
}

}  // namespace
}  // namespace einsim
