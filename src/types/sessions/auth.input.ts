import { isEmail, Matches, MaxLength, MinLength, ValidateBy, type ValidationOptions } from 'class-validator';
import { ArgsType, Field, InputType } from 'type-graphql';

/** A valid address once trimmed: surrounding space is normalised away like case, not refused. */
function IsEmailAddress(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'isEmailAddress', validator: { validate: (v: unknown) => typeof v === 'string' && isEmail(v.trim()) } }, options);
}

/** The rules of every new password (register, changePassword, resetPassword): 10 to 128 characters, a letter and a digit. */
function PasswordRules(): PropertyDecorator {
  const rules = [
    MinLength(10, { message: 'must be at least 10 characters long' }),
    MaxLength(128, { message: 'must be at most 128 characters long' }),
    Matches(/[A-Za-z]/, { message: 'must contain a letter' }),
    Matches(/\d/, { message: 'must contain a digit' }),
  ];
  return (target, key) => {
    for (const rule of rules) rule(target, key);
  };
}

const NEW_PASSWORD = '10 to 128 characters with at least one letter and one digit.';

@InputType()
export class RegisterInput {
  @Field()
  @IsEmailAddress({ message: 'must be a valid email address' })
  @MaxLength(254)
  email!: string;

  @Field({ description: NEW_PASSWORD })
  @PasswordRules()
  password!: string;

  @Field()
  @Matches(/\S/, { message: 'must not be empty' })
  @MaxLength(100)
  name!: string;
}

@InputType()
export class LoginInput {
  @Field()
  @MaxLength(254)
  email!: string;

  @Field()
  @MaxLength(128)
  password!: string;
}

@ArgsType()
export class ChangePasswordArgs {
  @Field()
  @MaxLength(128)
  currentPassword!: string;

  @Field({ description: NEW_PASSWORD })
  @PasswordRules()
  newPassword!: string;
}

@ArgsType()
export class RequestPasswordResetArgs {
  @Field()
  @IsEmailAddress({ message: 'must be a valid email address' })
  @MaxLength(254)
  email!: string;
}

@ArgsType()
export class ResetPasswordArgs {
  @Field({ description: 'The token from the reset email.' })
  @MaxLength(128)
  token!: string;

  @Field({ description: NEW_PASSWORD })
  @PasswordRules()
  newPassword!: string;
}
