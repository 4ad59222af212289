import { isEmail, Matches, MaxLength, MinLength, ValidateBy, type ValidationOptions } from 'class-validator';
import { Field, InputType } from 'type-graphql';

/** A valid address once trimmed: surrounding space is normalised away like case, not refused. */
function IsEmailAddress(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'isEmailAddress', validator: { validate: (v: unknown) => typeof v === 'string' && isEmail(v.trim()) } }, options);
}

@InputType()
export class RegisterInput {
  @Field()
  @IsEmailAddress({ message: 'must be a valid email address' })
  @MaxLength(254)
  email!: string;

  @Field({ description: '10 to 128 characters with at least one letter and one digit.' })
  @MinLength(10, { message: 'must be at least 10 characters long' })
  @MaxLength(128, { message: 'must be at most 128 characters long' })
  @Matches(/[A-Za-z]/, { message: 'must contain a letter' })
  @Matches(/\d/, { message: 'must contain a digit' })
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
