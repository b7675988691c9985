cg_bench(crypto_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/crypto_bench.cc DEPS cg_crypto)
