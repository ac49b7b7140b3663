//! Errors as Kubernetes `Status` objects.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lockgate_controller::{ControllerError, WriteError};
use lockgate_store::StoreError;
use serde_json::{Value, json};

#[derive(Debug)]
pub(crate) struct ApiError {
    code: StatusCode,
    reason: &'static str,
    message: String,
    problems: Option<Vec<Value>>,
}

impl ApiError {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            problems: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    pub(crate) fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            message,
        )
    }

    pub(crate) fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "Conflict", message)
    }

    pub(crate) fn invalid(message: impl Into<String>, problems: Vec<Value>) -> ApiError {
        ApiError {
            problems: Some(problems),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        let message = err.to_string();
        match err {
            StoreError::NotFound(_) => ApiError::not_found(message),
            StoreError::Conflict { .. } | StoreError::StaleValidation { .. } => {
                ApiError::conflict(message)
            }
            StoreError::ReadOnly(_) => ApiError::method_not_allowed(message),
            _ => {
                tracing::error!("{message}");
                ApiError::internal(message)
            }
        }
    }
}

impl From<ControllerError> for ApiError {
    fn from(err: ControllerError) -> ApiError {
        match err {
            ControllerError::Store(err) => err.into(),
            other => {
                tracing::error!("{other}");
                ApiError::internal(other.to_string())
            }
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(err: WriteError) -> ApiError {
        match err {
            WriteError::Refused(refused) => {
                let validation = &refused.validation;
                let problems = crate::write::problems(&validation.before, &validation.after);
                ApiError::invalid(refused.to_string(), problems)
            }
            // Another writer kept getting in first: trying again is the fix.
            WriteError::Contended { .. } => ApiError::conflict(err.to_string()),
            WriteError::WrongResource { .. } => ApiError::bad_request(err.to_string()),
            WriteError::Store(err) => err.into(),
            WriteError::Controller(err) => err.into(),
        }
    }
}

impl ApiError {
    /// The `Status` object: the body of the error's answer, or one item's answer in a batch.
    pub(crate) fn status(self) -> (StatusCode, Value) {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "code": self.code.as_u16(),
            "reason": self.reason,
            "message": self.message,
        });
        if let Some(problems) = self.problems {
            body["details"] = json!({ "problems": problems });
        }
        (self.code, body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, body) = self.status();
        (code, Json(body)).into_response()
    }
}
