//! The call inside a job's `data` field: `(func, None, args, kwargs)`, pickled (RQ's default)
//! or as the JSON array `[func, null, args, kwargs]`, zlib-compressed (or not: RQ reads both,
//! and so do we). Arguments are JSON values either way: a pickle reads as RQ's JSON
//! serializer would have written it (see `pickle.rs`).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::codec::{python_repr, zlib_compress, zlib_decompress};
use super::serializer::Serializer;

/// A function call: what a job runs. Arguments are JSON values, whichever serializer wrote them.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function's dotted name, `module.function` (`mymodule.count_words_at_url`).
    pub func: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Map<String, Value>,
}

impl Call {
    /// A call of `func` with positional `args`.
    pub fn new(func: &str, args: Vec<Value>) -> Call {
        Call {
            func: func.to_owned(),
            args,
            kwargs: Map::new(),
        }
    }

    /// The `data` field RQ writes: `zlib(serializer.dumps((func, None, args, kwargs)))`.
    ///
    /// ```
    /// use simul_net::rq::{Call, Serializer};
    /// let call = Call::new("mymodule.add", vec![1.into(), 2.into()]);
    /// for serializer in [Serializer::Pickle, Serializer::Json] {
    ///     let data = call.to_data(serializer).unwrap();
    ///     assert_eq!(Call::decode(&data).unwrap(), (call.clone(), serializer));
    /// }
    /// // Uncompressed JSON is read too, as RQ does.
    /// let raw = br#"["mymodule.add", null, [1, 2], {}]"#;
    /// assert_eq!(Call::from_data(raw).unwrap(), call);
    /// ```
    pub fn to_data(&self, serializer: Serializer) -> Result<Vec<u8>, String> {
        let tuple = Value::Array(vec![
            Value::String(self.func.clone()),
            Value::Null,
            Value::Array(self.args.clone()),
            Value::Object(self.kwargs.clone()),
        ]);
        Ok(zlib_compress(&serializer.dumps(&tuple)?))
    }

    /// Reads a job's `data` field (zlib or raw; pickle or JSON); the error says what was wrong.
    pub fn from_data(data: &[u8]) -> Result<Call, String> {
        Call::decode(data).map(|(call, _)| call)
    }

    /// Like [`from_data`](Self::from_data), and says which serializer wrote it, so the result
    /// can be written in the same one.
    pub fn decode(data: &[u8]) -> Result<(Call, Serializer), String> {
        let inflated = zlib_decompress(data);
        let bytes = inflated.as_deref().unwrap_or(data);
        let serializer = Serializer::detect(bytes);
        let value = serializer
            .loads(bytes)
            .map_err(|e| format!("data is not a {serializer} job: {e}"))?;
        let Value::Array(parts) = value else {
            return Err("data is not an array [func, instance, args, kwargs]".into());
        };
        let Ok([func, instance, args, kwargs]) = <[Value; 4]>::try_from(parts) else {
            return Err("data is not a 4-element array [func, instance, args, kwargs]".into());
        };
        let Value::String(func) = func else {
            return Err(format!("the function name is not a string: {func}"));
        };
        if !instance.is_null() {
            return Err(format!("{func}: calls on an instance are not supported"));
        }
        let Value::Array(args) = args else {
            return Err(format!("{func}: args are not an array: {args}"));
        };
        let kwargs = match kwargs {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => return Err(format!("{func}: kwargs are not an object: {other}")),
        };
        Ok((Call { func, args, kwargs }, serializer))
    }

    /// RQ's `description`: the call as Python would write it,
    /// `mymodule.count_words_at_url('http://nvie.com')`, keyword arguments sorted.
    ///
    /// ```
    /// use simul_net::rq::Call;
    /// let call = Call::new("mymodule.count_words_at_url", vec!["http://nvie.com".into()]);
    /// assert_eq!(call.description(), "mymodule.count_words_at_url('http://nvie.com')");
    /// ```
    pub fn description(&self) -> String {
        let mut parts: Vec<String> = self.args.iter().map(python_repr).collect();
        let mut named: Vec<String> = self
            .kwargs
            .iter()
            .map(|(k, v)| format!("{k}={}", python_repr(v)))
            .collect();
        named.sort();
        parts.extend(named);
        format!("{}({})", self.func, parts.join(", "))
    }

    /// Argument `position`, or keyword argument `name`, as a `T`; the error names the function,
    /// the argument and what was found, as Python's `TypeError` would.
    ///
    /// ```
    /// use simul_net::rq::Call;
    /// let call = Call::new("mymodule.add", vec![1.into(), "two".into()]);
    /// assert_eq!(call.arg::<i64>(0, "a").unwrap(), 1);
    /// let err = call.arg::<i64>(1, "b").unwrap_err();
    /// assert!(err.contains("argument b of mymodule.add"), "{err}");
    /// ```
    pub fn arg<T: DeserializeOwned>(&self, position: usize, name: &str) -> Result<T, String> {
        let value = self
            .args
            .get(position)
            .or_else(|| self.kwargs.get(name))
            .ok_or_else(|| format!("{}() missing required argument: '{name}'", self.func))?;
        serde_json::from_value(value.clone())
            .map_err(|e| format!("argument {name} of {} is {value}: {e}", self.func))
    }

    /// Like [`arg`](Self::arg), with `default` when the argument is absent.
    pub fn arg_or<T: DeserializeOwned>(
        &self,
        position: usize,
        name: &str,
        default: T,
    ) -> Result<T, String> {
        if self.args.get(position).is_none() && !self.kwargs.contains_key(name) {
            return Ok(default);
        }
        self.arg(position, name)
    }
}
