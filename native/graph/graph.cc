// descent_graph: a thin, generic N-API binding of TensorFlow's C graph API.
//
// It knows nothing of layers or optimizers: it adds operations (inputs, attributes, control
// inputs), adds gradients, and runs a session with feeds, fetches and targets, synchronously or
// on the libuv thread pool. Everything else is TypeScript (src/training/graph/).
//
// JS shapes:
//   output  = [operation, index]          (operation: an external owned by its graph)
//   attr    = [name, kind, value]         kind: i f b s type shape ints floats types tensor
//   feed    = [output, dtype, shape, typedArray]
//   result  = { dtype, shape, data }      (data copied into a new typed array)
#include <node_api.h>
#include <tensorflow/c/c_api.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

#define CHECK_NAPI(call)                                        \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      napi_throw_error(env, nullptr, "N-API call failed: " #call); \
      return nullptr;                                           \
    }                                                           \
  } while (0)

struct Graph {
  TF_Graph* graph;
};

struct Session {
  TF_Session* session;
  TF_Graph* graph;
  int running;
};

napi_value Throw(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

bool GetString(napi_env env, napi_value v, std::string* out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  out->resize(len + 1);
  if (napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &len) != napi_ok) return false;
  out->resize(len);
  return true;
}

uint32_t Length(napi_env env, napi_value array) {
  uint32_t n = 0;
  napi_get_array_length(env, array, &n);
  return n;
}

napi_value At(napi_env env, napi_value array, uint32_t i) {
  napi_value v;
  napi_get_element(env, array, i, &v);
  return v;
}

double Number(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

bool ToOutput(napi_env env, napi_value v, TF_Output* out) {
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  if (!is_array || Length(env, v) != 2) return false;
  void* op = nullptr;
  if (napi_get_value_external(env, At(env, v, 0), &op) != napi_ok) return false;
  out->oper = static_cast<TF_Operation*>(op);
  out->index = static_cast<int>(Number(env, At(env, v, 1)));
  return true;
}

napi_value FromOutput(napi_env env, TF_Output o) {
  napi_value arr, op, idx;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_external(env, o.oper, nullptr, nullptr, &op);
  napi_create_int32(env, o.index, &idx);
  napi_set_element(env, arr, 0, op);
  napi_set_element(env, arr, 1, idx);
  return arr;
}

std::vector<int64_t> Dims(napi_env env, napi_value array) {
  std::vector<int64_t> dims(Length(env, array));
  for (uint32_t i = 0; i < dims.size(); i++) dims[i] = static_cast<int64_t>(Number(env, At(env, array, i)));
  return dims;
}

/** A new tensor of `dtype` and `shape` holding a copy of a typed array's bytes. */
TF_Tensor* ToTensor(napi_env env, napi_value dtype_v, napi_value shape_v, napi_value data_v, std::string* error) {
  TF_DataType dtype = static_cast<TF_DataType>(static_cast<int>(Number(env, dtype_v)));
  std::vector<int64_t> dims = Dims(env, shape_v);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, data_v, &type, &length, &data, &buffer, &offset) != napi_ok) {
    *error = "tensor data must be a typed array";
    return nullptr;
  }
  size_t element = TF_DataTypeSize(dtype);
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  size_t bytes = element * static_cast<size_t>(count);
  size_t have = length * (type == napi_float64_array || type == napi_bigint64_array ? 8
                          : type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array ? 4
                          : type == napi_int16_array || type == napi_uint16_array ? 2 : 1);
  if (have != bytes) {
    *error = "tensor data has " + std::to_string(have) + " bytes, the shape needs " + std::to_string(bytes);
    return nullptr;
  }
  TF_Tensor* t = TF_AllocateTensor(dtype, dims.data(), static_cast<int>(dims.size()), bytes);
  if (bytes > 0) std::memcpy(TF_TensorData(t), data, bytes);
  return t;
}

napi_value FromTensor(napi_env env, TF_Tensor* t) {
  TF_DataType dtype = TF_TensorType(t);
  int rank = TF_NumDims(t);
  napi_value result, shape, data, buffer, dtype_v;
  napi_create_object(env, &result);
  napi_create_array_with_length(env, rank, &shape);
  for (int i = 0; i < rank; i++) {
    napi_value d;
    napi_create_int64(env, TF_Dim(t, i), &d);
    napi_set_element(env, shape, i, d);
  }
  size_t bytes = TF_TensorByteSize(t);
  void* dst = nullptr;
  napi_create_arraybuffer(env, bytes, &dst, &buffer);
  if (bytes > 0) std::memcpy(dst, TF_TensorData(t), bytes);
  napi_typedarray_type type = napi_uint8_array;
  size_t element = 1;
  switch (dtype) {
    case TF_FLOAT: type = napi_float32_array; element = 4; break;
    case TF_DOUBLE: type = napi_float64_array; element = 8; break;
    case TF_INT32: type = napi_int32_array; element = 4; break;
    case TF_INT64: type = napi_bigint64_array; element = 8; break;
    default: break;
  }
  napi_create_typedarray(env, type, bytes / element, buffer, 0, &data);
  napi_create_int32(env, dtype, &dtype_v);
  napi_set_named_property(env, result, "dtype", dtype_v);
  napi_set_named_property(env, result, "shape", shape);
  napi_set_named_property(env, result, "data", data);
  return result;
}

template <typename T>
T* Unwrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  napi_get_cb_info(env, info, argc, argv, &self, nullptr);
  void* p = nullptr;
  napi_unwrap(env, self, &p);
  return static_cast<T*>(p);
}

// ------------------------------------------------------------------------ Graph

void GraphFinalize(napi_env, void* data, void*) {
  Graph* g = static_cast<Graph*>(data);
  if (g->graph) TF_DeleteGraph(g->graph);
  delete g;
}

napi_value GraphNew(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, nullptr, nullptr, &self, nullptr);
  Graph* g = new Graph{TF_NewGraph()};
  CHECK_NAPI(napi_wrap(env, self, g, GraphFinalize, nullptr, nullptr));
  return self;
}

TF_Graph* Live(napi_env env, Graph* g) {
  if (!g || !g->graph) {
    napi_throw_error(env, nullptr, "the graph was deleted");
    return nullptr;
  }
  return g->graph;
}

bool SetAttr(napi_env env, TF_OperationDescription* desc, napi_value attr, std::string* error) {
  std::string name, kind;
  GetString(env, At(env, attr, 0), &name);
  GetString(env, At(env, attr, 1), &kind);
  napi_value v = At(env, attr, 2);
  const char* n = name.c_str();
  if (kind == "i") {
    TF_SetAttrInt(desc, n, static_cast<int64_t>(Number(env, v)));
  } else if (kind == "f") {
    TF_SetAttrFloat(desc, n, static_cast<float>(Number(env, v)));
  } else if (kind == "b") {
    bool b = false;
    napi_get_value_bool(env, v, &b);
    TF_SetAttrBool(desc, n, b ? 1 : 0);
  } else if (kind == "s") {
    std::string s;
    GetString(env, v, &s);
    TF_SetAttrString(desc, n, s.data(), s.size());
  } else if (kind == "type") {
    TF_SetAttrType(desc, n, static_cast<TF_DataType>(static_cast<int>(Number(env, v))));
  } else if (kind == "shape") {
    std::vector<int64_t> dims = Dims(env, v);
    TF_SetAttrShape(desc, n, dims.data(), static_cast<int>(dims.size()));
  } else if (kind == "ints") {
    std::vector<int64_t> values = Dims(env, v);
    TF_SetAttrIntList(desc, n, values.data(), static_cast<int>(values.size()));
  } else if (kind == "floats") {
    std::vector<float> values(Length(env, v));
    for (uint32_t i = 0; i < values.size(); i++) values[i] = static_cast<float>(Number(env, At(env, v, i)));
    TF_SetAttrFloatList(desc, n, values.data(), static_cast<int>(values.size()));
  } else if (kind == "types") {
    std::vector<TF_DataType> values(Length(env, v));
    for (uint32_t i = 0; i < values.size(); i++) values[i] = static_cast<TF_DataType>(static_cast<int>(Number(env, At(env, v, i))));
    TF_SetAttrTypeList(desc, n, values.data(), static_cast<int>(values.size()));
  } else if (kind == "tensor") {
    napi_value dtype, shape, data;
    napi_get_named_property(env, v, "dtype", &dtype);
    napi_get_named_property(env, v, "shape", &shape);
    napi_get_named_property(env, v, "data", &data);
    TF_Tensor* t = ToTensor(env, dtype, shape, data, error);
    if (!t) return false;
    TF_Status* status = TF_NewStatus();
    TF_SetAttrTensor(desc, n, t, status);
    TF_DeleteTensor(t);
    bool ok = TF_GetCode(status) == TF_OK;
    if (!ok) *error = TF_Message(status);
    TF_DeleteStatus(status);
    return ok;
  } else {
    *error = "unknown attribute kind " + kind;
    return false;
  }
  return true;
}

// addOp(type, name, inputs, attrs, controlInputs) -> operation
napi_value GraphAddOp(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  Graph* g = Unwrap<Graph>(env, info, &argc, argv);
  TF_Graph* graph = Live(env, g);
  if (!graph) return nullptr;
  std::string type, name;
  if (!GetString(env, argv[0], &type) || !GetString(env, argv[1], &name)) return Throw(env, "addOp(type, name, ...) takes strings");
  TF_OperationDescription* desc = TF_NewOperation(graph, type.c_str(), name.c_str());
  std::string error;
  uint32_t ninputs = Length(env, argv[2]);
  for (uint32_t i = 0; i < ninputs && error.empty(); i++) {
    napi_value in = At(env, argv[2], i);
    TF_Output o;
    if (ToOutput(env, in, &o)) {
      TF_AddInput(desc, o);
      continue;
    }
    // A list input: an array of outputs.
    std::vector<TF_Output> list(Length(env, in));
    for (uint32_t k = 0; k < list.size(); k++) {
      if (!ToOutput(env, At(env, in, k), &list[k])) error = type + " " + name + ": input " + std::to_string(i) + " is not an output";
    }
    if (error.empty()) TF_AddInputList(desc, list.data(), static_cast<int>(list.size()));
  }
  uint32_t nattrs = Length(env, argv[3]);
  for (uint32_t i = 0; i < nattrs && error.empty(); i++) SetAttr(env, desc, At(env, argv[3], i), &error);
  uint32_t ncontrol = argc > 4 ? Length(env, argv[4]) : 0;
  for (uint32_t i = 0; i < ncontrol && error.empty(); i++) {
    void* op = nullptr;
    if (napi_get_value_external(env, At(env, argv[4], i), &op) != napi_ok) error = "control inputs must be operations";
    else TF_AddControlInput(desc, static_cast<TF_Operation*>(op));
  }
  TF_Status* status = TF_NewStatus();
  TF_Operation* op = TF_FinishOperation(desc, status);  // also frees desc on failure
  if (error.empty() && TF_GetCode(status) != TF_OK) error = type + " " + name + ": " + TF_Message(status);
  TF_DeleteStatus(status);
  if (!error.empty()) return Throw(env, error);
  napi_value result;
  CHECK_NAPI(napi_create_external(env, op, nullptr, nullptr, &result));
  return result;
}

// addGradients(ys, xs, prefix) -> outputs (d sum(ys) / d xs)
napi_value GraphAddGradients(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  Graph* g = Unwrap<Graph>(env, info, &argc, argv);
  TF_Graph* graph = Live(env, g);
  if (!graph) return nullptr;
  std::vector<TF_Output> ys(Length(env, argv[0])), xs(Length(env, argv[1]));
  for (uint32_t i = 0; i < ys.size(); i++) if (!ToOutput(env, At(env, argv[0], i), &ys[i])) return Throw(env, "ys must be outputs");
  for (uint32_t i = 0; i < xs.size(); i++) if (!ToOutput(env, At(env, argv[1], i), &xs[i])) return Throw(env, "xs must be outputs");
  std::string prefix;
  GetString(env, argv[2], &prefix);
  std::vector<TF_Output> dy(xs.size());
  TF_Status* status = TF_NewStatus();
  TF_AddGradientsWithPrefix(graph, prefix.c_str(), ys.data(), static_cast<int>(ys.size()), xs.data(), static_cast<int>(xs.size()), nullptr, status, dy.data());
  std::string error = TF_GetCode(status) == TF_OK ? "" : TF_Message(status);
  TF_DeleteStatus(status);
  if (!error.empty()) return Throw(env, "gradients: " + error);
  napi_value result;
  napi_create_array_with_length(env, dy.size(), &result);
  for (uint32_t i = 0; i < dy.size(); i++) napi_set_element(env, result, i, FromOutput(env, dy[i]));
  return result;
}

// outputShape(output) -> dims (-1 unknown) or null for unknown rank
napi_value GraphOutputShape(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Graph* g = Unwrap<Graph>(env, info, &argc, argv);
  TF_Graph* graph = Live(env, g);
  if (!graph) return nullptr;
  TF_Output o;
  if (!ToOutput(env, argv[0], &o)) return Throw(env, "outputShape takes an output");
  TF_Status* status = TF_NewStatus();
  int rank = TF_GraphGetTensorNumDims(graph, o, status);
  std::vector<int64_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) TF_GraphGetTensorShape(graph, o, dims.data(), rank, status);
  TF_DeleteStatus(status);
  napi_value result;
  if (rank < 0) {
    napi_get_null(env, &result);
    return result;
  }
  napi_create_array_with_length(env, rank, &result);
  for (int i = 0; i < rank; i++) {
    napi_value d;
    napi_create_int64(env, dims[i], &d);
    napi_set_element(env, result, i, d);
  }
  return result;
}

napi_value GraphDelete(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Graph* g = Unwrap<Graph>(env, info, &argc, nullptr);
  if (g && g->graph) {
    TF_DeleteGraph(g->graph);  // TF keeps it alive while a session still uses it
    g->graph = nullptr;
  }
  return nullptr;
}

// ---------------------------------------------------------------------- Session

void CloseSession(Session* s) {
  if (!s->session) return;
  TF_Status* status = TF_NewStatus();
  TF_CloseSession(s->session, status);
  TF_DeleteSession(s->session, status);
  TF_DeleteStatus(status);
  s->session = nullptr;
}

void SessionFinalize(napi_env, void* data, void*) {
  Session* s = static_cast<Session*>(data);
  CloseSession(s);
  delete s;
}

// new Session(graph, configProtoBytes | null)
napi_value SessionNew(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
  void* gp = nullptr;
  if (argc < 1 || napi_unwrap(env, argv[0], &gp) != napi_ok) return Throw(env, "new Session(graph, config) takes a Graph");
  TF_Graph* graph = Live(env, static_cast<Graph*>(gp));
  if (!graph) return nullptr;
  TF_SessionOptions* opts = TF_NewSessionOptions();
  TF_Status* status = TF_NewStatus();
  napi_valuetype kind = napi_undefined;
  if (argc > 1) napi_typeof(env, argv[1], &kind);
  if (kind == napi_object) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer;
    size_t offset = 0;
    if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, &buffer, &offset) == napi_ok) {
      TF_SetConfig(opts, data, length, status);
    }
  }
  TF_Session* session = TF_GetCode(status) == TF_OK ? TF_NewSession(graph, opts, status) : nullptr;
  std::string error = TF_GetCode(status) == TF_OK ? "" : TF_Message(status);
  TF_DeleteStatus(status);
  TF_DeleteSessionOptions(opts);
  if (!error.empty()) return Throw(env, "session: " + error);
  Session* s = new Session{session, graph, 0};
  CHECK_NAPI(napi_wrap(env, self, s, SessionFinalize, nullptr, nullptr));
  return self;
}

struct Run {
  TF_Session* session = nullptr;
  std::vector<TF_Output> inputs, outputs;
  std::vector<TF_Tensor*> input_values, output_values;
  std::vector<TF_Operation*> targets;
  std::string error;
  // async only
  Session* owner = nullptr;
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;

  ~Run() {
    for (TF_Tensor* t : input_values) if (t) TF_DeleteTensor(t);
    for (TF_Tensor* t : output_values) if (t) TF_DeleteTensor(t);
  }

  void Execute() {
    TF_Status* status = TF_NewStatus();
    TF_SessionRun(session, nullptr, inputs.data(), input_values.data(), static_cast<int>(inputs.size()), outputs.data(),
                  output_values.data(), static_cast<int>(outputs.size()), targets.data(), static_cast<int>(targets.size()), nullptr,
                  status);
    if (TF_GetCode(status) != TF_OK) error = TF_Message(status);
    TF_DeleteStatus(status);
  }

  napi_value Results(napi_env env) {
    napi_value result;
    napi_create_array_with_length(env, output_values.size(), &result);
    for (uint32_t i = 0; i < output_values.size(); i++) napi_set_element(env, result, i, FromTensor(env, output_values[i]));
    return result;
  }
};

/** Reads (feeds, fetches, targets) into a Run; false (and run->error) on bad arguments. */
bool Prepare(napi_env env, napi_value* argv, Run* run) {
  uint32_t nfeeds = Length(env, argv[0]);
  for (uint32_t i = 0; i < nfeeds; i++) {
    napi_value feed = At(env, argv[0], i);
    TF_Output o;
    if (!ToOutput(env, At(env, feed, 0), &o)) {
      run->error = "feed " + std::to_string(i) + " does not name an output";
      return false;
    }
    TF_Tensor* t = ToTensor(env, At(env, feed, 1), At(env, feed, 2), At(env, feed, 3), &run->error);
    if (!t) {
      run->error = "feed " + std::to_string(i) + ": " + run->error;
      return false;
    }
    run->inputs.push_back(o);
    run->input_values.push_back(t);
  }
  uint32_t nfetches = Length(env, argv[1]);
  for (uint32_t i = 0; i < nfetches; i++) {
    TF_Output o;
    if (!ToOutput(env, At(env, argv[1], i), &o)) {
      run->error = "fetch " + std::to_string(i) + " is not an output";
      return false;
    }
    run->outputs.push_back(o);
  }
  run->output_values.assign(run->outputs.size(), nullptr);
  uint32_t ntargets = Length(env, argv[2]);
  for (uint32_t i = 0; i < ntargets; i++) {
    void* op = nullptr;
    if (napi_get_value_external(env, At(env, argv[2], i), &op) != napi_ok) {
      run->error = "targets must be operations";
      return false;
    }
    run->targets.push_back(static_cast<TF_Operation*>(op));
  }
  return true;
}

Session* LiveSession(napi_env env, napi_callback_info info, napi_value* argv) {
  size_t argc = 3;
  Session* s = Unwrap<Session>(env, info, &argc, argv);
  if (!s || !s->session) {
    napi_throw_error(env, nullptr, "the session was closed");
    return nullptr;
  }
  if (argc < 3) {
    napi_throw_error(env, nullptr, "run(feeds, fetches, targets)");
    return nullptr;
  }
  return s;
}

napi_value SessionRun(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Session* s = LiveSession(env, info, argv);
  if (!s) return nullptr;
  Run run;
  run.session = s->session;
  if (!Prepare(env, argv, &run)) return Throw(env, run.error);
  run.Execute();
  if (!run.error.empty()) return Throw(env, run.error);
  return run.Results(env);
}

void RunAsyncExecute(napi_env, void* data) { static_cast<Run*>(data)->Execute(); }

void RunAsyncComplete(napi_env env, napi_status, void* data) {
  Run* run = static_cast<Run*>(data);
  run->owner->running--;
  if (run->error.empty()) {
    napi_resolve_deferred(env, run->deferred, run->Results(env));
  } else {
    napi_value message, error;
    napi_create_string_utf8(env, run->error.c_str(), run->error.size(), &message);
    napi_create_error(env, nullptr, message, &error);
    napi_reject_deferred(env, run->deferred, error);
  }
  napi_delete_async_work(env, run->work);
  delete run;
}

napi_value SessionRunAsync(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Session* s = LiveSession(env, info, argv);
  if (!s) return nullptr;
  Run* run = new Run();
  run->session = s->session;
  run->owner = s;
  if (!Prepare(env, argv, run)) {
    std::string error = run->error;
    delete run;
    return Throw(env, error);
  }
  napi_value promise, name;
  napi_create_promise(env, &run->deferred, &promise);
  napi_create_string_utf8(env, "descent_graph.run", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, nullptr, name, RunAsyncExecute, RunAsyncComplete, run, &run->work);
  s->running++;
  napi_queue_async_work(env, run->work);
  return promise;
}

napi_value SessionClose(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Session* s = Unwrap<Session>(env, info, &argc, nullptr);
  if (!s) return nullptr;
  if (s->running > 0) return Throw(env, "the session has a run in progress");
  CloseSession(s);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor graph_methods[] = {
      {"addOp", nullptr, GraphAddOp, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addGradients", nullptr, GraphAddGradients, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"outputShape", nullptr, GraphOutputShape, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"delete", nullptr, GraphDelete, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value graph_class;
  CHECK_NAPI(napi_define_class(env, "Graph", NAPI_AUTO_LENGTH, GraphNew, nullptr, 4, graph_methods, &graph_class));
  napi_property_descriptor session_methods[] = {
      {"run", nullptr, SessionRun, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"runAsync", nullptr, SessionRunAsync, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, SessionClose, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value session_class;
  CHECK_NAPI(napi_define_class(env, "Session", NAPI_AUTO_LENGTH, SessionNew, nullptr, 3, session_methods, &session_class));
  napi_value version;
  napi_create_string_utf8(env, TF_Version(), NAPI_AUTO_LENGTH, &version);
  napi_set_named_property(env, exports, "Graph", graph_class);
  napi_set_named_property(env, exports, "Session", session_class);
  napi_set_named_property(env, exports, "tensorflowVersion", version);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
