# Included by CMake right after llama.cpp's project() call (install.sh passes it as
# CMAKE_PROJECT_llama.cpp_INCLUDE when llama-cpp-python compiles llama.cpp). llama-cpp-python forces
# LLAMA_BUILD_COMMON on, which compiles llama.cpp's "common" library (argument parsing, chat
# parsing, an HTTP client) that the Python bindings never load; a normal variable in llama.cpp's
# scope takes precedence over that cache entry, so only the engine (llama, ggml) is built.
set(LLAMA_BUILD_COMMON OFF)
