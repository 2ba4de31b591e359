"""Sign in, sign out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from teamtalk.api.deps import DB, RT, CurrentUser, Res
from teamtalk.schemas import LoginIn, UserEnvelope, UserOut
from teamtalk.services import auth, login_throttle

router = APIRouter(tags=["auth"])


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/login", response_model=UserEnvelope)
async def login(
    body: LoginIn, request: Request, response: Response, db: DB, res: Res
) -> UserEnvelope:
    signin = await auth.login(
        db,
        res,
        email=body.email,
        password=body.password,
        address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        previous_token=request.cookies.get(auth.COOKIE_NAME),
        devices=request.cookies.get(login_throttle.DEVICE_COOKIE),
    )
    secure = request.url.scheme == "https"
    response.set_cookie(
        auth.COOKIE_NAME,
        signin.token,
        max_age=res.settings.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    # Outlives sign-outs on purpose: it only says this browser signed in here before.
    # Sent to the login route alone.
    response.set_cookie(
        login_throttle.DEVICE_COOKIE,
        signin.device,
        max_age=res.settings.login_device_days * 86400,
        httponly=True,
        samesite="strict",
        secure=secure,
        path=request.url.path,
    )
    return UserEnvelope(user=UserOut.of(signin.user))


@router.post("/auth/logout", status_code=204)
async def logout(request: Request, response: Response, db: DB, res: Res, realtime: RT) -> None:
    ended = await auth.logout(db, res, request.cookies.get(auth.COOKIE_NAME))
    response.delete_cookie(auth.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    if ended is not None:  # this browser's sockets go with its session
        await realtime.disconnect_user(ended.user_id, ended.id)


@router.get("/me", response_model=UserEnvelope)
async def me(user: CurrentUser) -> UserEnvelope:
    return UserEnvelope(user=UserOut.of(user))
